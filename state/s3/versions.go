package s3

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/athanor-dev/athanor/state"
)

// Version is one stored version of a record object in a versioned bucket.
type Version struct {
	Key          string    // the record's key
	VersionID    string    // the S3 version id
	LastModified time.Time // when it was written (the server's clock)
	Latest       bool      // the current version
	Deleted      bool      // a delete marker: the record was deleted then
	Size         int64     // bytes
}

// Versioning reports whether the bucket has versioning enabled (not just
// suspended).
func (b *Backend) Versioning(ctx context.Context) (bool, error) {
	out, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b.bucket})
	if err != nil {
		return false, fmt.Errorf("state/s3: versioning of bucket %s: %w", b.bucket, err)
	}
	return out.Status == types.BucketVersioningStatusEnabled, nil
}

// errNotVersioned is the error of history on a bucket without versioning.
func (b *Backend) errNotVersioned() error {
	return fmt.Errorf("state/s3: bucket %s does not have versioning enabled, so no earlier versions of records are kept; enable it (aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled) to keep them from then on",
		b.bucket, b.bucket)
}

// Versions lists the stored versions of the record with key, or of every
// record of the stage when key is "", newest first within each record,
// records in key order. It fails when the bucket's versioning is not
// enabled.
func (b *Backend) Versions(ctx context.Context, key string) ([]Version, error) {
	if key != "" {
		if err := state.ValidateKey(key); err != nil {
			return nil, err
		}
	}
	on, err := b.Versioning(ctx)
	if err != nil {
		return nil, err
	}
	if !on {
		return nil, b.errNotVersioned()
	}
	prefix := b.base + recordsDir
	if key != "" {
		prefix = b.recordObject(key)
	}
	var vs []Version
	in := &s3.ListObjectVersionsInput{Bucket: &b.bucket, Prefix: &prefix}
	for {
		out, err := b.client.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("state/s3: list versions under %s: %w", b.where(), err)
		}
		for _, v := range out.Versions {
			k, ok := b.keyOf(ctx, aws.ToString(v.Key), aws.ToString(v.VersionId), key)
			if !ok {
				continue
			}
			vs = append(vs, Version{Key: k, VersionID: aws.ToString(v.VersionId), LastModified: aws.ToTime(v.LastModified).UTC(),
				Latest: aws.ToBool(v.IsLatest), Size: aws.ToInt64(v.Size)})
		}
		for _, m := range out.DeleteMarkers {
			k, ok := b.keyOf(ctx, aws.ToString(m.Key), "", key)
			if !ok {
				continue
			}
			vs = append(vs, Version{Key: k, VersionID: aws.ToString(m.VersionId), LastModified: aws.ToTime(m.LastModified).UTC(),
				Latest: aws.ToBool(m.IsLatest), Deleted: true})
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	return order(vs), nil
}

// order sorts versions by key and each key's newest first. S3 lists a
// key's versions newest first, some S3-compatible servers oldest first, and
// its delete markers apart; Last-Modified may be to the second, so the
// server's order ranks writes within one second: a key's versions are
// reversed when the current one comes last.
func order(vs []Version) []Version {
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Key < vs[j].Key })
	out := make([]Version, 0, len(vs))
	for len(vs) > 0 {
		n := 1
		for n < len(vs) && vs[n].Key == vs[0].Key {
			n++
		}
		var objs, marks []Version
		for _, v := range vs[:n] {
			if v.Deleted {
				marks = append(marks, v)
			} else {
				objs = append(objs, v)
			}
		}
		for _, l := range [][]Version{objs, marks} {
			if len(l) > 1 && (l[len(l)-1].Latest || !l[0].Latest && l[0].LastModified.Before(l[len(l)-1].LastModified)) {
				slices.Reverse(l)
			}
		}
		// Merge, newest first; on a tie the current version wins.
		for len(objs) > 0 || len(marks) > 0 {
			switch {
			case len(marks) == 0:
				out, objs = append(out, objs[0]), objs[1:]
			case len(objs) == 0:
				out, marks = append(out, marks[0]), marks[1:]
			case marks[0].LastModified.After(objs[0].LastModified) || marks[0].Latest:
				out, marks = append(out, marks[0]), marks[1:]
			default:
				out, objs = append(out, objs[0]), objs[1:]
			}
		}
		vs = vs[n:]
	}
	return out
}

// keyOf returns the record key of object obj (a version of it), or false
// when obj is not a record object of want (any, when want is ""). Keys too
// long to be their object's name are read from the version's content.
func (b *Backend) keyOf(ctx context.Context, obj, versionID, want string) (string, bool) {
	name, ok := strings.CutPrefix(obj, b.base+recordsDir)
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, recordExt)
	if !ok || strings.Contains(name, "/") {
		return "", false
	}
	if want != "" {
		return want, obj == b.recordObject(want)
	}
	if strings.HasPrefix(name, "%~") {
		if versionID == "" {
			return name, true
		}
		if o, err := b.get(ctx, obj, versionID); err == nil && o != nil {
			if r, err := state.DecodeRecord(o.data); err == nil {
				return r.Key, true
			}
		}
		return name, true
	}
	k, err := url.PathUnescape(name)
	if err != nil {
		return "", false
	}
	return k, true
}

// GetVersion reads the record with key as it was in version versionID (as
// Versions lists it). A delete marker's version is an error.
func (b *Backend) GetVersion(ctx context.Context, key, versionID string) (*state.Record, error) {
	if err := state.ValidateKey(key); err != nil {
		return nil, err
	}
	if versionID == "" {
		return nil, fmt.Errorf("state/s3: no version id given for record %q", key)
	}
	obj := b.recordObject(key)
	o, err := b.get(ctx, obj, versionID)
	if err != nil {
		return nil, fmt.Errorf("state/s3: version %s of record %q: %w", versionID, key, err)
	}
	if o == nil {
		return nil, fmt.Errorf("state/s3: record %q has no version %s (or that version is a deletion); see athanor state history %s", key, versionID, key)
	}
	r, err := state.DecodeRecord(o.data)
	if err != nil {
		return nil, fmt.Errorf("state/s3: version %s of record %q: %w", versionID, key, err)
	}
	if r.Key != key {
		return nil, fmt.Errorf("state/s3: version %s of object %s holds record %q, not %q", versionID, obj, r.Key, key)
	}
	return r, nil
}

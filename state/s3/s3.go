// Package s3 is the state backend for teams on AWS: records, stage metadata
// and the stage lock as objects of an S3 bucket, the way Terraform and
// Pulumi keep state there, with no other service to run.
//
// A location s3://bucket/prefix keeps the stage app/stage under
// prefix/app/stage/: one object per record (records/<key>.json, the key
// path-escaped, or a hash of it when too long for an object key), meta.json
// and lock.json, each the same JSON as the file backend writes. Every write
// is one whole-object PutObject, so a writer killed mid-write leaves the
// previous version whole. The client is aws-sdk-go-v2's, configured from the
// standard AWS configuration (environment, shared files, roles); the region
// defaults to us-east-1. AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) points it
// at an S3-compatible server, and whenever a custom endpoint is set the
// client uses path-style addressing, since such servers on loopback have no
// bucket subdomains.
//
// The stage lock is the object lock.json, written only with conditional
// PutObject: taken with If-None-Match: * when absent, or with If-Match on the
// ETag of a released or expired lock, so two runs can never both take it;
// renewed with If-Match on the holder's last ETag every sixth of the lease
// (each renewal changes the body, hence the ETag); released by overwriting it
// with a released marker, again with If-Match, so that a holder that lost its
// lock never releases another's. A lease ends, by the S3 server's own clock,
// a lease after the lock object's Last-Modified, compared with the Date of
// the response that read it (both to the second, so one second more is
// allowed): machines' clocks need not agree. A crashed holder blocks others
// for at most its lease plus that second.
//
// Fencing: while a Backend holds the stage lock, each write (Put, Delete,
// PutMeta) first checks its holder's renew deadline (three quarters of the
// lease after the last successful renewal was sent, by the holder's
// monotonic clock, as the PostgreSQL backend does) and reads lock.json to
// see that it still names this acquisition; only then is the write sent,
// bounded by the renew deadline. A record or meta write is moreover
// conditional on the ETag the object had when this backend last read or
// wrote it under the lock (If-Match), or on its absence (If-None-Match: *),
// so a late write never overwrites what a later holder wrote. After the
// write, lock.json is read again, and if the lock was lost by then the
// write is reported as failed with state.ErrLockLost (it may have landed
// late), never as a success.
//
// S3 has no write conditional on another object, so one window remains,
// where PostgreSQL checks the lock in the write's own statement: a write
// checked while the lock was held, that reaches S3 only after another run
// took the lock (after a forced unlock, or delayed in the network for more
// than a quarter of a lease past the holder's renew deadline), to an object
// the new holder has not written since. Such a write lands, and its writer
// is told its lock was lost. What lands is the old holder's record of an
// operation it started — the intent with its ClientToken, or the outcome —
// which a resumed run polls or repeats with the same ClientToken, so the
// cloud does it at most once; and the new holder, which read the object
// before, cannot overwrite it unseen: its next write of the object fails
// with a conflict and it stops, and the run after it reads the late write.
// Deletes cannot be conditional (S3-compatible servers do not support it):
// a late delete in that window removes a record the new holder has not
// rewritten, which the new holder's next write of it (If-Match) then also
// reports as a conflict. Keep the lease well above the network's worst
// delay; the default 30 s leaves 7.5 s.
//
// With bucket versioning on, every record write keeps the previous version:
// Versions lists them and GetVersion reads one, for athanor state history
// and athanor state restore.
//
// Importing this package registers it with state.Open for s3:// URLs.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/athanor-dev/athanor/state"
)

func init() {
	state.Register("s3", func(ctx context.Context, u *url.URL, app, stage string, o state.Options) (state.Backend, error) {
		client, err := NewClient(ctx)
		if err != nil {
			return nil, err
		}
		bucket, prefix, err := ParseLocation(u)
		if err != nil {
			return nil, err
		}
		return openBucket(ctx, client, bucket, prefix, app, stage, o)
	})
}

// ParseLocation returns the bucket and key prefix of an s3://bucket/prefix
// URL (the prefix without leading or trailing slashes, possibly empty).
func ParseLocation(u *url.URL) (bucket, prefix string, err error) {
	if u.Scheme != "s3" {
		return "", "", fmt.Errorf("state/s3: location %q is not an s3:// URL", u.Redacted())
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("state/s3: location %q names no bucket (want s3://bucket/prefix)", u.Redacted())
	}
	if u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("state/s3: location %q: an s3:// URL takes no user or query (region and endpoint come from the AWS configuration)", u.Redacted())
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// NewClient returns an S3 client from the standard AWS configuration, with
// the region defaulting to us-east-1 and path-style addressing whenever a
// custom endpoint is set (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the
// shared configuration's endpoint_url).
func NewClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("state/s3: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// The SDK's transport, in a client whose idle connections Close can
	// close; redirects are returned, not followed, as the SDK's own client
	// does.
	hc := &http.Client{Transport: awshttp.NewBuildableClient().GetTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.HTTPClient = hc
		if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			o.UsePathStyle = true
		}
	}), nil
}

// Backend is the state of one app and stage in an S3 bucket. It is safe for
// concurrent use.
type Backend struct {
	client     *s3.Client
	ownClient  bool // made by Open: Close closes its idle connections
	bucket     string
	base       string // key prefix of the stage, ending in "/"
	app, stage string
	opts       state.Options
	writeMu    [64]sync.Mutex // fenced writes of one object, striped by key
	mu         sync.Mutex
	held       *s3Lock
	etags      map[string]seen // object key → what this backend last saw of it under the lock
	writes     uint64          // fenced writes applied, in order
	lostLock   atomic.Bool     // a lock taken through the backend was lost
}

var (
	_ state.Backend     = (*Backend)(nil)
	_ state.LockManager = (*Backend)(nil)
)

// Open returns the state of app and stage at location, an
// s3://bucket/prefix URL, with a client from the standard AWS configuration
// (see NewClient). Options: state.WithLockTimeout, state.WithLease.
func Open(ctx context.Context, location, app, stage string, opts ...state.Option) (*Backend, error) {
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("state/s3: bad location %q: %w", location, err)
	}
	bucket, prefix, err := ParseLocation(u)
	if err != nil {
		return nil, err
	}
	client, err := NewClient(ctx)
	if err != nil {
		return nil, err
	}
	return openBucket(ctx, client, bucket, prefix, app, stage, state.NewOptions(opts...))
}

// openBucket checks that the bucket is reachable, so that a wrong name,
// region or endpoint is reported at once, and returns the backend.
func openBucket(ctx context.Context, client *s3.Client, bucket, prefix, app, stage string, o state.Options) (*Backend, error) {
	b, err := newBackend(client, bucket, prefix, app, stage, o)
	if err != nil {
		return nil, err
	}
	b.ownClient = true
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		why := ""
		switch status(err) {
		case http.StatusNotFound:
			why = " (it does not exist)"
		case http.StatusForbidden:
			why = " (access denied: check the credentials and the bucket policy)"
		case http.StatusMovedPermanently:
			why = " (it is in another region: set AWS_REGION to the bucket's)"
		}
		endpoint := "AWS"
		if ep := client.Options().BaseEndpoint; ep != nil {
			endpoint = *ep
		}
		return nil, fmt.Errorf("state/s3: bucket %s at %s in region %s%s: %w", bucket, endpoint, client.Options().Region, why, err)
	}
	return b, nil
}

// New returns the state of app and stage under prefix in bucket, through
// client.
func New(client *s3.Client, bucket, prefix, app, stage string, opts ...state.Option) (*Backend, error) {
	return newBackend(client, bucket, strings.Trim(prefix, "/"), app, stage, state.NewOptions(opts...))
}

func newBackend(client *s3.Client, bucket, prefix, app, stage string, o state.Options) (*Backend, error) {
	if err := state.ValidateName("app", app); err != nil {
		return nil, err
	}
	if err := state.ValidateName("stage", stage); err != nil {
		return nil, err
	}
	base := app + "/" + stage + "/"
	if prefix != "" {
		base = prefix + "/" + base
	}
	return &Backend{client: client, bucket: bucket, base: base, app: app, stage: stage, opts: o, etags: map[string]seen{}}, nil
}

const (
	recordsDir = "records/"
	recordExt  = ".json"
	metaName   = "meta.json"
	lockName   = "lock.json"
	// maxObjectKey is the longest S3 object key.
	maxObjectKey = 1024
)

// recordObject is the object key of the record with key: the key
// path-escaped, or "%~" and its SHA-256 when that would be too long (the
// record's own Key field says which key it is; "%~" never starts an
// escaped key).
func (b *Backend) recordObject(key string) string {
	name := url.PathEscape(key)
	if len(b.base)+len(recordsDir)+len(name)+len(recordExt) > maxObjectKey {
		sum := sha256.Sum256([]byte(key))
		name = "%~" + hex.EncodeToString(sum[:])
	}
	return b.base + recordsDir + name + recordExt
}

func (b *Backend) where() string { return "s3://" + b.bucket + "/" + b.base }

// object is an object read from the bucket.
type object struct {
	data         []byte
	etag         string
	lastModified time.Time
	date         time.Time // the server's clock (Date header), zero if absent
	versionID    string
}

// status is the HTTP status of an S3 error, 0 when err is not one.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// code is the S3 error code of err ("NoSuchKey"), "" when err is not one.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// missing reports whether err says the object does not exist (not the
// bucket: NoSuchBucket is an error to report).
func missing(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	return status(err) == http.StatusNotFound && code(err) != "NoSuchBucket"
}

// conflict reports whether err, from a conditional write, is a failed
// condition: 412 PreconditionFailed, 409 ConditionalRequestConflict (two
// conditional writes of one object at once), or the object missing for
// If-Match (AWS answers 404 NoSuchKey).
func conflict(err error) bool {
	s := status(err)
	return s == http.StatusPreconditionFailed || s == http.StatusConflict || missing(err)
}

// get reads an object; nil when it does not exist.
func (b *Backend) get(ctx context.Context, key, versionID string) (*object, error) {
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if missing(err) {
			return nil, nil
		}
		return nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, err
	}
	o := &object{data: data, etag: aws.ToString(out.ETag), versionID: aws.ToString(out.VersionId)}
	if out.LastModified != nil {
		o.lastModified = out.LastModified.UTC()
	}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if d, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			o.date = d.UTC()
		}
	}
	return o, nil
}

// put writes an object whole. ifMatch, when set, makes the write
// conditional on the object's ETag ("*" for: it must not exist). It returns
// the new ETag.
func (b *Backend) put(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json")}
	switch ifMatch {
	case "":
	case "*":
		in.IfNoneMatch = aws.String("*")
	default:
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := b.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// seen is an object's ETag ("" for absent) as last read or written under
// the lock, with the count of fenced writes when it was seen.
type seen struct {
	etag string
	at   uint64
}

// reading returns the count of fenced writes so far, taken before a read,
// for read.
func (b *Backend) reading() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}

// read records the ETag of an object as a read that began at start found
// it ("" for absent), for the conditions of fenced writes, unless a write
// of it applied since start is newer knowledge.
func (b *Backend) read(key, etag string, start uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		return
	}
	if e, ok := b.etags[key]; ok && e.at > start {
		return
	}
	b.etags[key] = seen{etag, start}
}

// wrote records the ETag of an object as a fenced write left it.
func (b *Backend) wrote(key, etag string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	if b.held != nil {
		b.etags[key] = seen{etag, b.writes}
	}
}

// forget drops what is known of an object after a write whose outcome is
// unknown; a write applied since counts it as a write.
func (b *Backend) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	delete(b.etags, key)
}

// Get returns the record with key, or an error wrapping state.ErrNotFound.
func (b *Backend) Get(ctx context.Context, key string) (*state.Record, error) {
	if err := state.ValidateKey(key); err != nil {
		return nil, err
	}
	obj := b.recordObject(key)
	start := b.reading()
	o, err := b.get(ctx, obj, "")
	if err != nil {
		return nil, fmt.Errorf("state/s3: get %q from %s: %w", key, b.where(), err)
	}
	if o == nil {
		b.read(obj, "", start)
		return nil, fmt.Errorf("%w: %s/%s %q", state.ErrNotFound, b.app, b.stage, key)
	}
	r, err := state.DecodeRecord(o.data)
	if err != nil {
		return nil, fmt.Errorf("state/s3: record %s/%s %q (%s): %w", b.app, b.stage, key, obj, err)
	}
	b.read(obj, o.etag, start)
	return r, nil
}

// Put writes r as one whole object. While the backend holds the stage lock
// the write is fenced (see the package documentation): refused with an
// error wrapping state.ErrLockLost once the lock is lost, and conditional on
// the object being as this backend last saw it.
func (b *Backend) Put(ctx context.Context, r *state.Record) error {
	data, err := state.EncodeRecord(r)
	if err != nil {
		return err
	}
	if err := b.write(ctx, b.recordObject(r.Key), data); err != nil {
		return fmt.Errorf("state/s3: put %q: %w", r.Key, err)
	}
	return nil
}

// PutMeta writes the stage metadata, fenced as Put is.
func (b *Backend) PutMeta(ctx context.Context, m *state.Meta) error {
	data, err := state.EncodeMeta(m)
	if err != nil {
		return err
	}
	if err := b.write(ctx, b.base+metaName, data); err != nil {
		return fmt.Errorf("state/s3: put meta: %w", err)
	}
	return nil
}

// stripe is the write mutex of object key.
func (b *Backend) stripe(key string) *sync.Mutex {
	h := sha256.Sum256([]byte(key))
	return &b.writeMu[int(h[0])%len(b.writeMu)]
}

// write puts object key, fenced when the lock is held.
func (b *Backend) write(ctx context.Context, key string, data []byte) error {
	l := b.lock()
	if l == nil {
		_, err := b.put(ctx, key, data, "")
		return err
	}
	mu := b.stripe(key)
	mu.Lock()
	defer mu.Unlock()
	if err := l.verify(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	e, known := b.etags[key]
	b.mu.Unlock()
	cond := e.etag
	if !known {
		o, err := b.head(ctx, key)
		if err != nil {
			return err
		}
		cond = o
	}
	if cond == "" {
		cond = "*"
	}
	wctx, cancel := context.WithDeadline(ctx, l.Deadline())
	defer cancel()
	etag, err := b.put(wctx, key, data, cond)
	if err == nil {
		b.wrote(key, etag)
		return l.after(ctx, key)
	}
	b.forget(key)
	if conflict(err) {
		if verr := l.verify(ctx); verr != nil {
			return verr
		}
		return fmt.Errorf("object %s was changed by another writer while this run held the stage lock (a write made without the lock, or a late write of a run that lost it): read the stage again before writing: %w", key, err)
	}
	return err
}

// head returns the ETag of object key, "" when it does not exist.
func (b *Backend) head(ctx context.Context, key string) (string, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		if missing(err) {
			return "", nil
		}
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// Delete removes the record with key; a missing record is not an error.
// While the backend holds the stage lock it first checks the lock as Put
// does (the delete itself cannot be conditional; see the package
// documentation).
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := state.ValidateKey(key); err != nil {
		return err
	}
	obj := b.recordObject(key)
	if l := b.lock(); l != nil {
		mu := b.stripe(obj)
		mu.Lock()
		defer mu.Unlock()
		if err := l.verify(ctx); err != nil {
			return fmt.Errorf("state/s3: delete %q: %w", key, err)
		}
		wctx, cancel := context.WithDeadline(ctx, l.Deadline())
		defer cancel()
		ctx = wctx
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &obj}); err != nil && !missing(err) {
		b.forget(obj)
		return fmt.Errorf("state/s3: delete %q: %w", key, err)
	}
	b.wrote(obj, "")
	if l := b.lock(); l != nil {
		if err := l.after(ctx, obj); err != nil {
			return fmt.Errorf("state/s3: delete %q: %w", key, err)
		}
	}
	return nil
}

// List returns every record of the stage, sorted by Seq and then by Key.
func (b *Backend) List(ctx context.Context) ([]*state.Record, error) {
	start := b.reading()
	var keys []string
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.base + recordsDir)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("state/s3: list %s: %w", b.where(), err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); strings.HasSuffix(k, recordExt) {
				keys = append(keys, k)
			}
		}
	}
	recs := make([]*state.Record, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, k := range keys {
		g.Go(func() error {
			o, err := b.get(gctx, k, "")
			if err != nil {
				return fmt.Errorf("state/s3: list %s: %w", b.where(), err)
			}
			if o == nil {
				return nil // deleted since listed
			}
			r, err := state.DecodeRecord(o.data)
			if err != nil {
				return fmt.Errorf("state/s3: list %s: object %s: %w", b.where(), k, err)
			}
			b.read(k, o.etag, start)
			recs[i] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, r := range recs {
		if r != nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// GetMeta returns the stage metadata, or state.NewMeta() when none was
// written.
func (b *Backend) GetMeta(ctx context.Context) (*state.Meta, error) {
	key := b.base + metaName
	start := b.reading()
	o, err := b.get(ctx, key, "")
	if err != nil {
		return nil, fmt.Errorf("state/s3: get meta from %s: %w", b.where(), err)
	}
	if o == nil {
		b.read(key, "", start)
		return state.NewMeta(), nil
	}
	m, err := state.DecodeMeta(o.data)
	if err != nil {
		return nil, fmt.Errorf("state/s3: meta of %s/%s (%s): %w", b.app, b.stage, key, err)
	}
	b.read(key, o.etag, start)
	return m, nil
}

// Close closes the idle connections of the client when Open made it with
// NewClient (a client given to New is left alone). Unlock held locks first: a lock left
// held expires with its lease.
func (b *Backend) Close() error {
	if b.ownClient {
		if c, ok := b.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
	return nil
}

// lock returns the lock held through this backend, or nil.
func (b *Backend) lock() *s3Lock {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// lockDoc is the content of lock.json.
type lockDoc struct {
	Released bool      `json:"released,omitempty"`
	ID       string    `json:"id,omitempty"`
	Host     string    `json:"host,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Op       string    `json:"operation,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	// Token is random per acquisition: the lock is this acquisition's
	// while lock.json carries it.
	Token string `json:"token"`
	// LeaseMillis is the holder's lease: others judge its expiry by it.
	LeaseMillis int64 `json:"leaseMillis,omitempty"`
	// Renewal counts renewals, so that each one changes the ETag.
	Renewal int64 `json:"renewal,omitempty"`
}

// lockState is lock.json as read.
type lockState struct {
	doc  lockDoc
	etag string
	lm   time.Time // Last-Modified, server clock
	now  time.Time // Date of the response, server clock
}

// expires is when the lease ends by the server's clock: Last-Modified and
// Date are whole seconds, so a second is added.
func (s *lockState) expires() time.Time {
	return s.lm.Add(time.Duration(s.doc.LeaseMillis)*time.Millisecond + time.Second)
}

// live reports whether the lock is held: not released and its lease not
// over by the server's clock.
func (s *lockState) live() bool {
	if s == nil || s.doc.Released {
		return false
	}
	now := s.now
	if now.IsZero() {
		now = time.Now()
	}
	return now.Before(s.expires())
}

func (s *lockState) info() state.LockInfo {
	return state.LockInfo{ID: s.doc.ID, Host: s.doc.Host, PID: s.doc.PID, Operation: s.doc.Op, Since: s.doc.Since, Expires: s.expires()}
}

// readLock reads lock.json; nil when absent.
func (b *Backend) readLock(ctx context.Context) (*lockState, error) {
	o, err := b.get(ctx, b.base+lockName, "")
	if err != nil {
		return nil, fmt.Errorf("state/s3: read lock of %s/%s: %w", b.app, b.stage, err)
	}
	if o == nil {
		return nil, nil
	}
	s := &lockState{etag: o.etag, lm: o.lastModified, now: o.date}
	if err := json.Unmarshal(o.data, &s.doc); err != nil {
		return nil, fmt.Errorf("state/s3: lock object %s%s is not a lock: %w", b.where(), lockName, err)
	}
	return s, nil
}

func newToken() string {
	var t [16]byte
	_, _ = rand.Read(t[:])
	return hex.EncodeToString(t[:])
}

// released is the body of a released lock.
func released() []byte {
	data, _ := json.Marshal(lockDoc{Released: true, Token: newToken()})
	return data
}

// Lock takes the stage lock for the run described by info, waiting up to
// the backend's lock timeout. While held, its lease is renewed every sixth
// of the lease. When a live run holds it, the error is a *state.LockedError
// naming that run and when its lease ends.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	return state.WaitLock(ctx, b.opts, info, func(info state.LockInfo) (state.Lock, error) { return b.tryLock(ctx, info) })
}

func (b *Backend) tryLock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	doc := lockDoc{ID: info.ID, Host: info.Host, PID: info.PID, Op: info.Operation, Since: info.Since.UTC(),
		Token: newToken(), LeaseMillis: b.opts.Lease.Milliseconds()}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		cur, err := b.readLock(ctx)
		if err != nil {
			return nil, err
		}
		if cur.live() {
			return nil, &state.LockedError{App: b.app, Stage: b.stage, Holder: cur.info(), Now: cur.now}
		}
		cond := "*"
		if cur != nil {
			cond = cur.etag
		}
		// The lease is counted, by this process's clock, from before the
		// write is sent: it never ends later here than on the server.
		sent := time.Now()
		etag, err := b.put(ctx, b.base+lockName, data, cond)
		if err == nil {
			return b.newLock(doc, etag, sent), nil
		}
		if !conflict(err) {
			return nil, fmt.Errorf("state/s3: lock %s/%s: %w", b.app, b.stage, err)
		}
		// Another run wrote the lock in between: look again.
	}
	cur, err := b.readLock(ctx)
	if err != nil {
		return nil, err
	}
	if cur.live() {
		return nil, &state.LockedError{App: b.app, Stage: b.stage, Holder: cur.info(), Now: cur.now}
	}
	return nil, &state.LockedError{App: b.app, Stage: b.stage}
}

// LockHolder returns who holds the stage lock, with when its lease ends,
// or nil when nobody does (no lock, released, or its lease is over).
func (b *Backend) LockHolder(ctx context.Context) (*state.LockInfo, error) {
	cur, err := b.readLock(ctx)
	if err != nil || !cur.live() {
		return nil, err
	}
	h := cur.info()
	return &h, nil
}

// ForceUnlock releases a lock whose lease is over (its holder stopped
// renewing it). While the lease is live it refuses with
// state.ErrHolderAlive unless force is true; a forced unlock of a live
// holder fences it off at once: its next write reads the lock, finds it
// released, and is refused.
func (b *Backend) ForceUnlock(ctx context.Context, force bool) (*state.LockInfo, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := b.readLock(ctx)
		if err != nil {
			return nil, err
		}
		if cur == nil || cur.doc.Released {
			return nil, nil
		}
		if cur.live() && !force {
			e := &state.LockedError{App: b.app, Stage: b.stage, Holder: cur.info(), Now: cur.now}
			return nil, fmt.Errorf("%w: %v, and its lease is being renewed; stop that run (pid %d on host %s) or force the unlock",
				state.ErrHolderAlive, e, cur.doc.PID, cur.doc.Host)
		}
		_, err = b.put(ctx, b.base+lockName, released(), cur.etag)
		if err == nil {
			h := cur.info()
			return &h, nil
		}
		if !conflict(err) {
			return nil, fmt.Errorf("state/s3: force unlock %s/%s: %w", b.app, b.stage, err)
		}
	}
	return nil, fmt.Errorf("state/s3: force unlock %s/%s: the lock kept changing while being released; try again", b.app, b.stage)
}

// s3Lock is a held lock and its heartbeat; its LeaseKeeper says whether it
// is still held (Lost, Err).
type s3Lock struct {
	*state.LeaseKeeper
	b    *Backend
	doc  lockDoc
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex
	etag string // of this holder's last write of lock.json

	once      sync.Once
	unlockErr error
}

func (b *Backend) newLock(doc lockDoc, etag string, sent time.Time) *s3Lock {
	ctx, cancel := context.WithCancel(context.Background())
	l := &s3Lock{b: b, doc: doc, stop: cancel, done: make(chan struct{}), etag: etag,
		LeaseKeeper: state.NewLeaseKeeper(b.app, b.stage, "S3", b.opts.Lease, sent, func() { b.lostLock.Store(true) })}
	b.mu.Lock()
	b.held = l
	b.etags = map[string]seen{} // what was read before the lock may be stale
	b.mu.Unlock()
	go l.heartbeat(ctx)
	return l
}

// verify checks, before a fenced write, that the lock is still this
// acquisition's: by the renew deadline, then by reading lock.json. An
// unreadable lock is an error, not a loss.
func (l *s3Lock) verify(ctx context.Context) error {
	if err := l.Check(); err != nil {
		return err
	}
	cur, err := l.b.readLock(ctx)
	if err != nil {
		return fmt.Errorf("check the stage lock before writing: %w", err)
	}
	if why := l.notMine(cur); why != "" {
		return l.LoseBecause(why)
	}
	return l.Check()
}

// after checks the lock again once a fenced write of object key was
// applied, so that a write that may have landed after the lock was lost is
// never reported a success: it returns an error wrapping state.ErrLockLost
// then, and nil otherwise (also when the lock cannot be read: the write
// itself succeeded).
func (l *s3Lock) after(ctx context.Context, key string) error {
	err := l.verify(ctx)
	if err == nil || !errors.Is(err, state.ErrLockLost) {
		return nil
	}
	return fmt.Errorf("the write of %s was applied, but the lock was lost by then, so it may have landed after another run took the stage (whose next write of that object then fails instead of overwriting it): %w", key, err)
}

// notMine says why the lock read as cur is not this acquisition's, or ""
// when it is.
func (l *s3Lock) notMine(cur *lockState) string {
	switch {
	case cur == nil:
		return "its lock object was removed"
	case cur.doc.Released:
		return "its lock was released by another (a forced unlock)"
	case cur.doc.Token != l.doc.Token:
		return fmt.Sprintf("run %s (pid %d on host %s, %s) holds it now", cur.doc.ID, cur.doc.PID, cur.doc.Host, cur.doc.Op)
	case !cur.live():
		return "its lease ended at " + cur.expires().Format(time.RFC3339) + " by the S3 server's clock without a renewal"
	}
	return ""
}

// heartbeat renews the lease until the lock is unlocked or lost: each
// renewal rewrites lock.json with If-Match on this holder's last ETag. A
// conflict is either another's write (the lock is lost, saying to whom) or
// an earlier renewal of ours that applied unheard (tried again from the
// ETag read).
func (l *s3Lock) heartbeat(ctx context.Context) {
	defer close(l.done)
	l.Keep(ctx, func(rctx context.Context) error {
		l.mu.Lock()
		doc, etag := l.doc, l.etag
		l.doc.Renewal++
		doc.Renewal = l.doc.Renewal
		l.mu.Unlock()
		data, _ := json.Marshal(doc)
		etag, err := l.b.put(rctx, l.b.base+lockName, data, etag)
		if err == nil {
			l.mu.Lock()
			l.etag = etag
			l.mu.Unlock()
			return nil
		}
		if !conflict(err) {
			return err // unreachable: try again until the deadline
		}
		cur, rerr := l.b.readLock(rctx)
		if rerr != nil {
			return rerr
		}
		if why := l.notMine(cur); why != "" {
			return l.LoseBecause(why)
		}
		l.mu.Lock()
		l.etag, l.doc.Renewal = cur.etag, cur.doc.Renewal
		l.mu.Unlock()
		return errRenewRaced
	})
}

// errRenewRaced is a renewal that met an earlier renewal of ours applied
// unheard: the next tick renews from the ETag read.
var errRenewRaced = errors.New("state/s3: a renewal met an earlier one of this holder")

// Unlock stops the heartbeat, ends the fencing of the backend's writes and
// releases the lock if it is still this acquisition's (a conditional write
// of a released marker). A lost lock is left alone. Calling it again does
// nothing.
func (l *s3Lock) Unlock(ctx context.Context) error {
	l.once.Do(func() {
		l.stop()
		<-l.done
		l.b.mu.Lock()
		if l.b.held == l {
			l.b.held = nil
			l.b.etags = map[string]seen{}
		}
		l.b.mu.Unlock()
		if l.Check() != nil {
			return
		}
		ctx, cancel := context.WithDeadline(ctx, l.Deadline())
		defer cancel()
		for attempt := 0; attempt < 3; attempt++ {
			l.mu.Lock()
			etag := l.etag
			l.mu.Unlock()
			_, err := l.b.put(ctx, l.b.base+lockName, released(), etag)
			if err == nil {
				return
			}
			if !conflict(err) {
				l.unlockErr = fmt.Errorf("state/s3: unlock %s/%s: %w", l.b.app, l.b.stage, err)
				return
			}
			cur, err := l.b.readLock(ctx)
			if err != nil {
				l.unlockErr = fmt.Errorf("state/s3: unlock %s/%s: %w", l.b.app, l.b.stage, err)
				return
			}
			if l.notMine(cur) != "" {
				return // no longer ours: nothing to release
			}
			l.mu.Lock()
			l.etag = cur.etag
			l.mu.Unlock()
		}
		l.unlockErr = fmt.Errorf("state/s3: unlock %s/%s: the lock kept changing while being released", l.b.app, l.b.stage)
	})
	return l.unlockErr
}

// Command fetchschemas downloads the CloudFormation resource schemas AWS
// publishes for a region and unpacks them into a directory, for `make
// generate` and the tests that read the registry (point ATHANOR_SCHEMAS at
// the directory):
//
//	go run ./internal/tools/fetchschemas -region us-east-1 -out DIR
//	ATHANOR_SCHEMAS=DIR make generate
//
// The archive is BASE/CloudformationSchema.zip, with BASE
// https://schema.cloudformation.REGION.amazonaws.com unless -base-url names
// another (a mirror). Unpacking is bounded: the archive, each schema and
// their total are limited in size (-max-archive, -max-file, -max-total),
// only regular files ending in .json are written, and an entry whose name
// would leave DIR (absolute, "..", a backslash) fails the whole fetch.
package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// ArchiveName is the file name of the schema archive under the base URL.
const ArchiveName = "CloudformationSchema.zip"

// limits bound what a fetch downloads and unpacks.
type limits struct {
	archive, file, total int64
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fetchschemas:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fetchschemas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	region := fs.String("region", cloudcontrol.DefaultRegion, "AWS region whose published schemas to fetch")
	base := fs.String("base-url", "", "base URL of the archive (default https://schema.cloudformation.REGION.amazonaws.com)")
	out := fs.String("out", "", "directory to unpack the schemas into (created if absent; required)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up on the download after this long")
	var lim limits
	fs.Int64Var(&lim.archive, "max-archive", 256<<20, "largest archive accepted, in bytes")
	fs.Int64Var(&lim.file, "max-file", 16<<20, "largest schema accepted, in bytes, unpacked")
	fs.Int64Var(&lim.total, "max-total", 2<<30, "largest total of the unpacked schemas, in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("no output directory: pass -out DIR")
	}
	if *base == "" {
		if *region == "" || strings.ContainsAny(*region, "/.:") {
			return fmt.Errorf("region %q: want a region name such as %s", *region, cloudcontrol.DefaultRegion)
		}
		*base = "https://schema.cloudformation." + *region + ".amazonaws.com"
	}
	url := strings.TrimSuffix(*base, "/") + "/" + ArchiveName
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	n, err := fetch(ctx, http.DefaultClient, url, *out, lim)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d schemas from %s in %s\nregenerate with: ATHANOR_SCHEMAS=%s make generate\n", n, url, *out, *out)
	return nil
}

// fetch downloads the archive at url and unpacks its schemas into out,
// returning how many it wrote.
func fetch(ctx context.Context, client *http.Client, url, out string, lim limits) (int, error) {
	tmp, err := os.CreateTemp("", "athanor-schemas-*.zip")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := download(ctx, client, url, tmp, lim.archive)
	if err != nil {
		return 0, err
	}
	zr, err := zip.NewReader(tmp, size)
	if err != nil {
		return 0, fmt.Errorf("%s: not a zip archive: %w", url, err)
	}
	return unpack(zr, out, lim)
}

// download writes the body of a GET of url to w, failing past max bytes.
func download(ctx context.Context, client *http.Client, url string, w io.Writer, max int64) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("download the schemas: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("download the schemas: GET %s: %s (is the region right? -base-url names another server)", url, resp.Status)
	}
	if resp.ContentLength > max {
		return 0, fmt.Errorf("download the schemas: %s is %d bytes, more than -max-archive %d", url, resp.ContentLength, max)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return 0, fmt.Errorf("download the schemas from %s: %w", url, err)
	}
	if n > max {
		return 0, fmt.Errorf("download the schemas: %s is more than -max-archive %d bytes", url, max)
	}
	return n, nil
}

// unpack writes zr's .json entries under out. Every entry name is checked
// before anything is written, so a hostile archive writes nothing; each
// file is then read through a bound, whatever its header claims.
func unpack(zr *zip.Reader, out string, lim limits) (int, error) {
	var files []*zip.File
	for _, f := range zr.File {
		name := f.Name
		if strings.Contains(name, `\`) || path.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(name)) {
			return 0, fmt.Errorf("archive entry %q: names a path outside the output directory; refusing the archive", name)
		}
		switch {
		case f.FileInfo().IsDir():
			continue
		case !f.Mode().IsRegular():
			return 0, fmt.Errorf("archive entry %q: not a regular file (mode %v); refusing the archive", name, f.Mode())
		case !strings.HasSuffix(name, ".json"):
			continue // the archive holds schemas only; anything else is not ours to write
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return 0, errors.New("the archive holds no *.json schema")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(out)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	var total int64
	for _, f := range files {
		n, err := extract(root, f, lim.file, lim.total-total)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return len(files), nil
}

// extract writes one entry under root (which no name can leave), reading at
// most min(max, left) bytes of it; the schema must be JSON.
func extract(root *os.Root, f *zip.File, max, left int64) (int64, error) {
	bound, what := max, "-max-file"
	if left < bound {
		bound, what = left, "-max-total"
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("archive entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, bound+1))
	if err != nil {
		return 0, fmt.Errorf("archive entry %q: %w", f.Name, err)
	}
	if int64(len(data)) > bound {
		return 0, fmt.Errorf("archive entry %q: unpacks to more than %s %d bytes", f.Name, what, bound)
	}
	if !json.Valid(data) {
		return 0, fmt.Errorf("archive entry %q: not a JSON schema", f.Name)
	}
	name := filepath.FromSlash(f.Name)
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
	}
	if err := root.WriteFile(name, data, 0o644); err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

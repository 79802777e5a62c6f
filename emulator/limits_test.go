package emulator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
)

// stalledRequest is a Cloud Control request that announces a body and never
// sends it.
const stalledRequest = "POST / HTTP/1.1\r\nHost: emulator\r\n" +
	"X-Amz-Target: CloudApiService.ListResources\r\n" +
	"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n"

// stall opens n connections to url that each send stalledRequest (or, with
// headerOnly, half a request line) and then nothing.
func stall(t *testing.T, url string, n int, headerOnly bool) []net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	msg := stalledRequest
	if headerOnly {
		msg = "POST / HTTP/1.1\r\nHost: emu"
	}
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		conns = append(conns, c)
	}
	return conns
}

// closedByServer reports whether the server has closed c within the
// generous bound: a read returns end of file or a reset (after any answer)
// rather than timing out.
func closedByServer(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open: %w", err)
	}
	return nil
}

// listOnce makes one ListResources call through the SDK.
func listOnce(ctx context.Context, url string) error {
	cc, _, _ := clients(url, "us-east-1", staticCreds("a", "b"))
	_, err := cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)})
	return err
}

// TestStalledBodiesAreCut holds 300 connections that send their headers and
// never their body: the server keeps answering others, and closes every
// stalled one once the read timeout has passed.
func TestStalledBodiesAreCut(t *testing.T) {
	ctx := context.Background()
	r, err := Start(ctx, "127.0.0.1:0", Options{Limits: Limits{ReadTimeout: time.Second, ReadHeaderTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stalled := stall(t, r.URL, 250, false)
	stalled = append(stalled, stall(t, r.URL, 50, true)...)
	if err := listOnce(ctx, r.URL); err != nil {
		t.Fatalf("with %d stalled connections: %v", len(stalled), err)
	}
	for i, c := range stalled {
		if err := closedByServer(c); err != nil {
			t.Fatalf("stalled connection %d: %v", i, err)
		}
	}
	if err := listOnce(ctx, r.URL); err != nil {
		t.Fatalf("after the stalled connections: %v", err)
	}
}

// TestStalledBodyAnswer: the client that stalls is told why before its
// connection is closed.
func TestStalledBodyAnswer(t *testing.T) {
	r, err := Start(context.Background(), "127.0.0.1:0", Options{Limits: Limits{ReadTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := stall(t, r.URL, 1, false)[0]
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to the stalled request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "RequestTimeout") {
		t.Fatalf("answer %d %s", resp.StatusCode, body)
	}
}

// TestConnectionCap fills the connection bound with stalled clients (and a
// read timeout far beyond the test): new clients are still served, by
// closing the oldest stalled connections, and the server never holds more
// than the bound.
func TestConnectionCap(t *testing.T) {
	ctx := context.Background()
	const max = 40
	r, err := Start(ctx, "127.0.0.1:0", Options{Limits: Limits{MaxConnections: max, ReadTimeout: time.Hour, ReadHeaderTimeout: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stalled := stall(t, r.URL, max/2, false)
	stalled = append(stalled, stall(t, r.URL, max/2, true)...)
	for i := range 10 {
		if err := listOnce(ctx, r.URL); err != nil {
			t.Fatalf("call %d with the bound full of stalled connections: %v", i, err)
		}
		if n := r.conns.count(); n > max {
			t.Fatalf("%d connections held, bound %d", n, max)
		}
	}
	// Each new client closed the oldest stalled one.
	if err := closedByServer(stalled[0]); err != nil {
		t.Fatalf("the oldest stalled connection: %v", err)
	}
}

// TestRequestSizeBounds: oversized headers and bodies are refused before
// they are read.
func TestRequestSizeBounds(t *testing.T) {
	r, err := Start(context.Background(), "127.0.0.1:0", Options{Limits: Limits{MaxHeaderBytes: 4 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	send := func(req string) (int, string) {
		t.Helper()
		c, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to %.60q: %v", req, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	big := "POST / HTTP/1.1\r\nHost: emulator\r\nX-Padding: " + strings.Repeat("a", 16<<10) + "\r\n\r\n"
	if status, _ := send(big); status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KiB of headers: %d", status)
	}
	huge := "POST / HTTP/1.1\r\nHost: emulator\r\nX-Amz-Target: CloudApiService.ListResources\r\n" +
		"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 104857600\r\n\r\n"
	if status, body := send(huge); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "RequestEntityTooLarge") {
		t.Fatalf("100 MiB announced body: %d %s", status, body)
	}
}

// TestCloseEndsConnections: Close ends a connection that never sent a
// request and an idle keep-alive one at once, and leaves no goroutine of
// the server behind.
func TestCloseEndsConnections(t *testing.T) {
	ctx := context.Background()
	r, err := Start(ctx, "127.0.0.1:0", Instant())
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	idle, err := net.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	body := `{"TypeName":"AWS::Logs::LogGroup"}`
	fmt.Fprintf(idle, "POST / HTTP/1.1\r\nHost: emulator\r\nX-Amz-Target: CloudApiService.ListResources\r\n"+
		"Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("keep-alive answer %d close=%v", resp.StatusCode, resp.Close)
	}
	// Wait until the server has seen the silent connection.
	for deadline := time.Now().Add(30 * time.Second); r.conns.count() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections, want 2", r.conns.count())
		}
		time.Sleep(5 * time.Millisecond) // polling a bounded wait
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "idle": idle} {
		if err := closedByServer(c); err != nil {
			t.Errorf("%s connection: %v", name, err)
		}
	}
	// No goroutine serves a connection any more.
	for deadline := time.Now().Add(30 * time.Second); ; {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "net/http.(*conn).serve") {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, stacks)
			t.Fatal("a connection goroutine is still running after Close")
		}
		time.Sleep(5 * time.Millisecond) // polling a bounded wait
	}
}

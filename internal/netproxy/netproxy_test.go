package netproxy_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/internal/netproxy"
)

// echo serves connections that send back every line they receive.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// waitHeld waits until p holds n chunks.
func waitHeld(t *testing.T, p *netproxy.Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for p.Held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("proxy holds %d chunks, want %d", p.Held(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPauseResume(t *testing.T) {
	p, err := netproxy.Start(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip := func(line string) {
		t.Helper()
		if _, err := io.WriteString(c, line+"\n"); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != line+"\n" {
			t.Fatalf("echo of %q = %q, %v", line, got, err)
		}
	}
	roundTrip("before")

	p.Pause()
	if _, err := io.WriteString(c, "held\n"); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, p, 1) // read by the proxy, not forwarded
	// A connection opened while paused waits too.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := io.WriteString(c2, "second\n"); err != nil {
		t.Fatal(err)
	}
	if p.Held() != 1 {
		t.Fatalf("proxy holds %d chunks while paused, want 1", p.Held())
	}
	p.Resume()
	got, err := r.ReadString('\n')
	if err != nil || got != "held\n" {
		t.Fatalf("held data after Resume = %q, %v", got, err)
	}
	got, err = bufio.NewReader(c2).ReadString('\n')
	if err != nil || got != "second\n" {
		t.Fatalf("the connection opened while paused = %q, %v", got, err)
	}
	roundTrip("after")
	waitHeld(t, p, 0)

	// Closing the client closes its upstream connection too.
	c.Close()
	c2.Close()
	deadline := time.Now().Add(time.Minute)
	for p.Conns() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after the clients closed", p.Conns())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

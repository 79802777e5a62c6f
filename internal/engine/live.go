package engine

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// Terminal reports whether w is a terminal that can show a live view (not
// TERM=dumb), and returns a function giving its size.
func Terminal(w io.Writer) (size func() (cols, rows int), ok bool) {
	f, isFile := w.(interface{ Fd() uintptr })
	if !isFile || os.Getenv("TERM") == "dumb" {
		return nil, false
	}
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return nil, false
	}
	return func() (int, int) {
		cols, rows, err := term.GetSize(fd)
		if err != nil {
			return 0, 0
		}
		return cols, rows
	}, true
}

// liveView draws a Reporter's operations in flight at the bottom of a
// terminal: one line each with its elapsed time, erased and redrawn
// whenever a line is printed above it, an operation starts or ends, and on
// every tick. Its methods other than wait are called with the reporter's
// mutex held.
type liveView struct {
	r     *Reporter
	size  func() (cols, rows int)
	drawn int // lines of the view on the screen, the cursor below them
	quit  chan struct{}
	done  sync.WaitGroup
	once  sync.Once
}

func newLiveView(r *Reporter, size func() (int, int), every time.Duration) *liveView {
	v := &liveView{r: r, size: size, quit: make(chan struct{})}
	v.done.Add(1)
	go func() {
		defer v.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-v.quit:
				return
			case <-t.C:
				r.mu.Lock()
				if !r.closed && (r.running > 0 || v.drawn > 0) {
					v.redraw()
				}
				r.mu.Unlock()
			}
		}
	}()
	return v
}

// erasing is the escape sequence that erases the view: up to its first
// line, then to the end of the screen.
func (v *liveView) erasing() string {
	if v.drawn == 0 {
		return ""
	}
	return fmt.Sprintf("\x1b[%dA\r\x1b[J", v.drawn)
}

// print writes text above the view, in one write with the redrawn view.
func (v *liveView) print(text string) {
	var b strings.Builder
	b.WriteString(v.erasing())
	b.WriteString(text)
	v.draw(&b)
	io.WriteString(v.r.w, b.String())
}

// redraw draws the view afresh.
func (v *liveView) redraw() { v.print("") }

// erase removes the view from the screen.
func (v *liveView) erase() {
	if s := v.erasing(); s != "" {
		io.WriteString(v.r.w, s)
		v.drawn = 0
	}
}

// draw appends the view's lines to b, as many as fit the terminal (a
// count of those left out last), each cut to its width.
func (v *liveView) draw(b *strings.Builder) {
	cols, rows := 0, 0
	if v.size != nil {
		cols, rows = v.size()
	}
	if cols <= 0 || rows <= 0 {
		cols, rows = 80, 24
	}
	room := max(rows-2, 1)
	shown := v.r.running
	if shown > room {
		shown = room - 1
	}
	ops := make([]*inflight, 0, shown)
	for _, op := range v.r.inflight {
		if len(ops) == shown {
			break
		}
		if !op.ended {
			ops = append(ops, op)
		}
	}
	more := v.r.running - len(ops)
	now := time.Now()
	line := func(s string) {
		b.WriteString(cut(s, cols-1))
		b.WriteByte('\n')
	}
	for _, op := range ops {
		line(fmt.Sprintf("  %-10s %s (%s)%s, %s elapsed", progressing[op.action], op.key, op.typeName, op.detail, elapsed(now.Sub(op.began))))
	}
	if more > 0 {
		line(fmt.Sprintf("  ... and %d more in flight", more))
	}
	v.drawn = len(ops)
	if more > 0 {
		v.drawn++
	}
}

// cut shortens s to at most n characters.
func cut(s string, n int) string {
	if n < 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// stop ends the ticker; the caller holds the reporter's mutex.
func (v *liveView) stop() { v.once.Do(func() { close(v.quit) }) }

// wait waits for the ticker to end, after stop; without the mutex held.
func (v *liveView) wait() { v.done.Wait() }

package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes reports as tables for a person: per run, the limits, one
// line per phase, the state size, the targets and any problems.
func WriteText(w io.Writer, reports ...*Report) error {
	var b strings.Builder
	for i, r := range reports {
		if i > 0 {
			b.WriteString("\n")
		}
		writeReport(&b, r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeReport(b *strings.Builder, r *Report) {
	if r.Concurrency > 0 {
		fmt.Fprintf(b, "profile %s, N=%d, concurrency %d", r.Profile, r.N, r.Concurrency)
	} else {
		fmt.Fprintf(b, "profile %s, N=%d, default concurrency (adaptive, up to %d; baseline %d)", r.Profile, r.N, r.MaxConcurrency, r.BaselineConcurrency)
	}
	if r.RetryAfter != "" {
		fmt.Fprintf(b, ", RetryAfter %s", r.RetryAfter)
	}
	if r.RateLimit > 0 {
		fmt.Fprintf(b, ", rate limit %g req/s (burst %d)", r.RateLimit, r.Burst)
	} else {
		b.WriteString(", no rate limit")
	}
	if r.MaxLatencySecond > 0 {
		fmt.Fprintf(b, ", latency %gs..%gs (seed %d)", r.MinLatencySecond, r.MaxLatencySecond, r.Seed)
	}
	fmt.Fprintf(b, "; baseline polls every %gs; %s, %d CPUs\n", r.BaselinePollSeconds, r.GoVersion, r.CPUs)
	if r.Isolated {
		b.WriteString("RSS and CPU: each phase's own worker process (the emulator runs in the parent)\n")
	} else {
		b.WriteString("RSS and CPU: the whole benchmark process, emulator included\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trunner\twall s\t×baseline\tbound s\t×bound\tcalls/res\tmut\tpoll\tread\tpolls/op\tthrottled\tin flight\tRSS MB\tCPU s\tsys s\tresult\t")
	for _, p := range r.Phases {
		inFlight := "-"
		if p.Client != nil {
			inFlight = fmt.Sprint(p.Client.PeakInFlight)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%.1f\t%.2f\t%.2f\t%s\t\n",
			p.Name, p.Runner, p.WallSeconds, optRatio(p.RatioToBaseline), optSeconds(p.BoundSeconds), optRatio(p.RatioToBound),
			p.CallsPerResource.Total, p.CallsPerResource.Mutations, p.CallsPerResource.Polls, p.CallsPerResource.Reads,
			p.PollsPerOperation, p.Throttles, inFlight, float64(p.PeakRSSBytes)/(1<<20), p.CPUSeconds, p.CPUSysSeconds, outcomeText(p))
	}
	tw.Flush()
	if r.StateBytes > 0 {
		fmt.Fprintf(b, "state on disk after deploy: %d bytes (%.0f bytes per resource)\n", r.StateBytes, r.StateBytesPerResource)
	}
	for _, t := range r.Targets {
		mark := "MET   "
		if !t.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(b, "%s %s: measured %.3g %s\n", mark, t.Name, t.Measured, t.Unit)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(b, "PROBLEM %s\n", p)
	}
}

func optRatio(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *r)
}

func optSeconds(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", s)
}

func outcomeText(p *Phase) string {
	var parts []string
	for _, c := range []struct {
		n    int
		name string
	}{{p.Created, "created"}, {p.Replaced, "replaced"}, {p.Updated, "updated"}, {p.Deleted, "deleted"}, {p.Unchanged, "unchanged"}, {p.Failed, "FAILED"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	if p.Error != "" {
		parts = append(parts, "error")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

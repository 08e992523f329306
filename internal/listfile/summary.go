package listfile

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/touchline/touchline/verifier"
)

// Summary counts verdicts by status and reason.
type Summary struct {
	Total    int
	ByStatus map[verifier.Status]int
	ByReason map[verifier.Status]map[verifier.Reason]int
	// InconclusiveAccepted counts deliverable addresses whose domain's
	// catch-all test had no clear answer: the part of "deliverable" that
	// could still bounce.
	InconclusiveAccepted int
}

// Add counts one verdict.
func (s *Summary) Add(v verifier.Verdict) {
	if s.ByStatus == nil {
		s.ByStatus = map[verifier.Status]int{}
		s.ByReason = map[verifier.Status]map[verifier.Reason]int{}
	}
	s.Total++
	s.ByStatus[v.Status]++
	if s.ByReason[v.Status] == nil {
		s.ByReason[v.Status] = map[verifier.Reason]int{}
	}
	s.ByReason[v.Status][v.Reason]++
	if v.Status == verifier.Deliverable && v.CatchAll == verifier.CatchAllInconclusive {
		s.InconclusiveAccepted++
	}
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

// WriteText writes the summary for a person: counts per status and reason,
// and what bounce rate to expect.
func (s *Summary) WriteText(w io.Writer, elapsed time.Duration) {
	rate := 0.0
	if elapsed > 0 {
		rate = float64(s.Total) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "Verified %d rows in %s (%.0f rows/s)\n", s.Total, elapsed.Round(100*time.Millisecond), rate)
	for _, st := range []verifier.Status{verifier.Deliverable, verifier.Undeliverable, verifier.Risky, verifier.Unknown} {
		n := s.ByStatus[st]
		var parts []string
		reasons := s.ByReason[st]
		keys := make([]string, 0, len(reasons))
		for r := range reasons {
			keys = append(keys, string(r))
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := reasons[verifier.Reason(keys[i])], reasons[verifier.Reason(keys[j])]
			return a > b || a == b && keys[i] < keys[j]
		})
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, reasons[verifier.Reason(k)]))
		}
		fmt.Fprintf(w, "  %-14s %6d  %5.1f%%  %s\n", st, n, pct(n, s.Total), strings.Join(parts, ", "))
	}
	und, del := s.ByStatus[verifier.Undeliverable], s.ByStatus[verifier.Deliverable]
	fmt.Fprintf(w, "Expected hard-bounce rate:\n")
	fmt.Fprintf(w, "  sending to every row:           at least %.1f%% (%d undeliverable)\n", pct(und, s.Total), und)
	fmt.Fprintf(w, "  sending only to deliverable:    %.1f%% known bad, at most %.1f%% at risk (%d of %d accepted where the catch-all test was inconclusive)\n",
		0.0, pct(s.InconclusiveAccepted, del), s.InconclusiveAccepted, del)
}

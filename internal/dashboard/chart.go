package dashboard

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/store"
)

// chart is a daily rate drawn as inline SVG: a line of the rate over light
// bars of the day's sends, so a spike on a day of three sends reads as
// what it is. Days without sends have no rate and break the line.
type chart struct {
	ID, Title, What string
	W, H            float64 // viewBox
	Left, Right     float64 // plot area
	Top, Bottom     float64
	Bars            []chartBar
	Lines           []string // SVG path data, one per run of days with sends
	Points          []chartPoint
	YTicks, XTicks  []chartTick
	Limit           *chartTick // a reference line, e.g. the guardrail
	MaxSent         int
	Sent, Hits      int // over the days shown
	Summary         string
}

type chartBar struct {
	X, Y, W, H float64
	Title      string
}

type chartPoint struct {
	X, Y   float64
	Day    string // 2006-01-02
	Period string // RFC 3339, as in GET /v1/stats
	Value  float64
	Sent   int
	Hits   int
	Title  string
}

type chartTick struct {
	X, Y  float64
	Label string
}

// rateChart charts hits(day)/sent(day). floor is the least top of the
// scale (a 0.4% day must not fill the chart); limit, when not 0, is drawn
// as a dashed line.
func rateChart(id, title, what string, days []store.PeriodStats, hits func(store.PeriodStats) int, floor, limit float64, limitLabel string) chart {
	c := chart{ID: id, Title: title, What: what, W: 640, H: 220, Left: 46, Right: 630, Top: 12, Bottom: 184}
	top := floor
	for _, d := range days {
		c.MaxSent = max(c.MaxSent, d.Sent)
		c.Sent += d.Sent
		c.Hits += hits(d)
		if d.Sent > 0 {
			top = max(top, float64(hits(d))/float64(d.Sent)*1.1)
		}
	}
	top = max(top, limit*1.25)
	top, step := niceScale(top)
	plotH := c.Bottom - c.Top
	y := func(rate float64) float64 { return c.Bottom - rate/top*plotH }
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, chartTick{X: c.Left - 6, Y: y(v), Label: tickLabel(v)})
	}
	if limit > 0 {
		c.Limit = &chartTick{X: c.Right, Y: y(limit), Label: fmt.Sprintf("%s %s", limitLabel, tickLabel(limit))}
	}
	n := len(days)
	if n == 0 {
		c.Summary = title + ": no days"
		return c
	}
	slot := (c.Right - c.Left) / float64(n)
	var path strings.Builder
	for i, d := range days {
		x := c.Left + slot*(float64(i)+0.5)
		day := d.Period.Format("2006-01-02")
		label := d.Period.Format("Jan 2")
		if d.Sent > 0 && c.MaxSent > 0 {
			h := float64(d.Sent) / float64(c.MaxSent) * plotH * 0.9
			c.Bars = append(c.Bars, chartBar{X: x - slot*0.35, Y: c.Bottom - h, W: slot * 0.7, H: h,
				Title: fmt.Sprintf("%s: %d sent", label, d.Sent)})
		}
		if i%7 == (n-1)%7 {
			c.XTicks = append(c.XTicks, chartTick{X: x, Y: c.Bottom + 16, Label: label})
		}
		if d.Sent == 0 {
			if path.Len() > 0 {
				c.Lines = append(c.Lines, path.String())
				path.Reset()
			}
			continue
		}
		h := hits(d)
		rate := float64(h) / float64(d.Sent)
		py := y(rate)
		if path.Len() == 0 {
			fmt.Fprintf(&path, "M%.1f %.1f", x, py)
		} else {
			fmt.Fprintf(&path, " L%.1f %.1f", x, py)
		}
		c.Points = append(c.Points, chartPoint{X: x, Y: py, Day: day, Period: d.Period.UTC().Format(time.RFC3339), Value: rate,
			Sent: d.Sent, Hits: h, Title: fmt.Sprintf("%s: %d of %d sent %s (%s)", label, h, d.Sent, what, pct(rate))})
	}
	if path.Len() > 0 {
		c.Lines = append(c.Lines, path.String())
	}
	if c.Sent == 0 {
		c.Summary = fmt.Sprintf("%s per day over %d days: nothing sent", title, n)
	} else {
		c.Summary = fmt.Sprintf("%s per day over %d days: %d of %d sent %s (%s)", title, n, c.Hits, c.Sent, what, pct(float64(c.Hits)/float64(c.Sent)))
	}
	return c
}

// niceScale rounds top up to a whole number of round steps, at most six.
func niceScale(top float64) (float64, float64) {
	if top <= 0 {
		top = 0.01
	}
	step := 1.0
	for _, s := range []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1} {
		if top/s <= 5 {
			step = s
			break
		}
	}
	top = math.Ceil(top/step-1e-9) * step
	return min(top, 1), step
}

// tickLabel formats a rate on an axis: whole percents without decimals.
func tickLabel(rate float64) string {
	p := math.Round(rate*1000) / 10
	if p == math.Trunc(p) {
		return fmt.Sprintf("%.0f%%", p)
	}
	return fmt.Sprintf("%.1f%%", p)
}

// pct formats a rate as the dashboard shows every rate: a percentage with
// one decimal.
func pct(rate float64) string { return fmt.Sprintf("%.1f%%", rate*100) }

package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerExposesTouchlineMetrics(t *testing.T) {
	TouchesSent.WithLabelValues("sent").Inc()
	SchedulerLag.Observe(0.2)
	Inbound.WithLabelValues("human_reply").Inc()
	rec := httptest.NewRecorder()
	Handler(Registry(nil)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`touchline_touches_total{outcome="sent"}`, "touchline_scheduler_lag_seconds_bucket", `touchline_inbound_messages_total{class="human_reply"}`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

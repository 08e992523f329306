package cli

import (
	"context"
	"log/slog"
)

// routineToDebug lowers River's Info records to Debug. At Info River
// reports its routine: producer job counts every 5 s, scheduler runs, and
// every job retried, such as a touch a greylisting server asked to come
// back later (RFC 5321 §4.5.4.1 makes that an ordinary answer). That
// flooded make run's terminal; --log-level debug shows it again. River's
// warnings and errors pass unchanged.
type routineToDebug struct{ slog.Handler }

func (h routineToDebug) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h routineToDebug) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h routineToDebug) WithAttrs(as []slog.Attr) slog.Handler {
	return routineToDebug{h.Handler.WithAttrs(as)}
}

func (h routineToDebug) WithGroup(name string) slog.Handler {
	return routineToDebug{h.Handler.WithGroup(name)}
}

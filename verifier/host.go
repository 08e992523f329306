package verifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Scheduling of probes. Every RCPT question becomes a job on the queue of
// the MX host that should answer it. Each host has at most PerHost sessions
// (workers), each serving jobs from the queue one after another on one SMTP
// connection, so a list with 5,000 addresses at one company costs a handful
// of connections, not 5,000. A global semaphore caps connections overall.
// A host that cannot be reached hands its jobs to the next MX in preference
// order; a host that says "421 too busy" is backed off exponentially and
// served by fewer sessions.

const (
	// maxAttempts bounds how often one job is retried after its session
	// broke (a dropped connection, a 421) before it is given up.
	maxAttempts = 3
	// hostFailures is how many sessions in a row may fail to open before
	// the host is considered down for downTTL.
	hostFailures = 3
	downTTL      = 5 * time.Minute
	// idleTimeout is how long a session waits for more work before QUIT,
	// unless other hosts are waiting for a connection slot.
	idleTimeout = time.Second
	maxBackoff  = 30 * time.Second
)

type job struct {
	ctx    context.Context
	target probeTarget
	done   chan probeResult
	start  time.Time

	mu           sync.Mutex
	tried        []string
	hostIdx      int
	attempts     int
	greyDeadline time.Time
	finished     atomic.Bool
}

func (j *job) addTried(h string) {
	j.mu.Lock()
	if !slices.Contains(j.tried, h) {
		j.tried = append(j.tried, h)
	}
	j.mu.Unlock()
}

func (j *job) triedSnapshot() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.tried...)
}

func (j *job) finish(r probeResult) {
	if j.finished.CompareAndSwap(false, true) {
		r.tried = j.triedSnapshot()
		j.done <- r
	}
}

// submit puts j on the queue of its current host.
func (v *Verifier) submit(j *job) {
	if err := j.ctx.Err(); err != nil {
		j.finish(probeResult{status: Unknown, reason: ReasonTimeout, detail: "verification cancelled: " + err.Error()})
		return
	}
	h := j.target.hosts[j.hostIdx]
	j.addTried(h.name)
	v.pool(h).enqueue(j, false)
}

// hostDown is why a host is not used for a while, and the result its jobs
// get when no other MX is left.
type hostDown struct {
	until    time.Time
	res      probeResult
	failover bool // try the next MX host; false when every host would say the same
}

type hostPool struct {
	v    *Verifier
	name string
	wake chan struct{}

	mu           sync.Mutex
	addrs        []netip.Addr
	queue        []*job
	workers      int // sessions running or waiting for a slot
	idle         int // sessions waiting for work
	limit        int
	failures     int // sessions in a row that failed to open
	backoff      time.Duration
	backoffUntil time.Time
	kickPending  bool
	noTLS        bool // STARTTLS failed here once; stay in clear text
	down         *hostDown
}

func (v *Verifier) pool(h mxHost) *hostPool {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.hosts[h.name]
	if p == nil {
		p = &hostPool{v: v, name: h.name, limit: v.cfg.PerHost, wake: make(chan struct{}, v.cfg.PerHost)}
		v.hosts[h.name] = p
		if len(v.hosts)%1024 == 0 {
			v.sweepHostsLocked()
		}
	}
	p.mu.Lock()
	p.addrs = h.addrs
	p.mu.Unlock()
	return p
}

// sweepHostsLocked forgets hosts with nothing to do, so memory follows the
// hosts in use.
func (v *Verifier) sweepHostsLocked() {
	now := time.Now()
	for k, p := range v.hosts {
		p.mu.Lock()
		if p.workers == 0 && len(p.queue) == 0 && (p.down == nil || now.After(p.down.until)) {
			delete(v.hosts, k)
		}
		p.mu.Unlock()
	}
}

func (p *hostPool) enqueue(j *job, front bool) {
	p.mu.Lock()
	if d := p.down; d != nil && time.Now().Before(d.until) {
		p.mu.Unlock()
		p.v.hostFailed(j, *d)
		return
	}
	if front {
		p.queue = slices.Insert(p.queue, 0, j)
	} else {
		p.queue = append(p.queue, j)
	}
	p.startLocked()
	p.mu.Unlock()
}

// startLocked wakes an idle session or starts a new one if the host's limit
// and back-off allow.
func (p *hostPool) startLocked() {
	if len(p.queue) == 0 {
		return
	}
	if p.v.ctx.Err() != nil {
		p.closeQueueLocked()
		return
	}
	if p.idle > 0 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return
	}
	if p.workers >= p.limit {
		return
	}
	if wait := time.Until(p.backoffUntil); wait > 0 {
		if !p.kickPending {
			p.kickPending = true
			time.AfterFunc(wait, func() {
				p.mu.Lock()
				p.kickPending = false
				p.startLocked()
				p.mu.Unlock()
			})
		}
		return
	}
	p.workers++
	p.v.workers.Add(1)
	go p.work()
}

// leave ends a session's worker and lets another start if work is left.
func (p *hostPool) leave() {
	p.mu.Lock()
	p.workers--
	p.startLocked()
	p.mu.Unlock()
}

// closeQueueLocked answers every queued job once the Verifier is closed.
func (p *hostPool) closeQueueLocked() {
	for _, j := range p.queue {
		j.finish(probeResult{status: Unknown, reason: ReasonTimeout, detail: "verifier closed"})
	}
	p.queue = nil
}

// next returns the next job, or nil when the session should end (the
// worker is then already counted out).
func (p *hostPool) next() *job {
	deadline := time.Now().Add(idleTimeout)
	t := time.NewTimer(idleTimeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		if p.v.ctx.Err() != nil {
			p.closeQueueLocked()
			p.workers--
			p.mu.Unlock()
			return nil
		}
		if len(p.queue) > 0 {
			j := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return j
		}
		if p.v.semWaiting.Load() > 0 || !time.Now().Before(deadline) || p.v.ctx.Err() != nil {
			p.workers--
			p.mu.Unlock()
			return nil
		}
		p.idle++
		p.mu.Unlock()
		t.Reset(min(50*time.Millisecond, time.Until(deadline)))
		select {
		case <-p.wake:
		case <-t.C:
		case <-p.v.ctx.Done():
		}
		p.mu.Lock()
		p.idle--
		p.mu.Unlock()
	}
}

func (p *hostPool) work() {
	v := p.v
	defer v.workers.Done()
	select {
	case v.sem <- struct{}{}:
	default:
		v.semWaiting.Add(1)
		select {
		case v.sem <- struct{}{}:
			v.semWaiting.Add(-1)
		case <-v.ctx.Done():
			v.semWaiting.Add(-1)
			p.leave()
			return
		}
	}
	defer func() { <-v.sem }()

	var s *session
	defer func() {
		if s != nil {
			s.quit()
		}
	}()
	for {
		j := p.next()
		if j == nil {
			return
		}
		if err := j.ctx.Err(); err != nil {
			j.finish(probeResult{status: Unknown, reason: ReasonTimeout, detail: "verification cancelled: " + err.Error()})
			continue
		}
		if s == nil {
			var err error
			s, err = p.open()
			if err != nil {
				p.openFailed(j, err)
				p.leave()
				return
			}
		}
		var leave bool
		s, leave = p.ask(s, j)
		if leave {
			// Backed off: let the back-off timer decide when a session
			// starts again.
			p.leave()
			return
		}
	}
}

// open starts a session on the first of the host's addresses that answers.
func (p *hostPool) open() (*session, error) {
	p.mu.Lock()
	addrs, noTLS := p.addrs, p.noTLS
	p.mu.Unlock()
	cfg := &p.v.sess
	if noTLS && !cfg.noStartTLS {
		c := *cfg
		c.noStartTLS = true
		cfg = &c
	}
	var err error
	for _, ip := range addrs {
		var s *session
		s, err = dialSession(p.v.ctx, cfg, p.name, ip)
		if err == nil {
			return s, nil
		}
		// Only a failure to connect is worth another address of the same
		// host; a reply or a timeout after connecting is the host's answer.
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			break
		}
	}
	return nil, err
}

// openFailed decides what a failure to open a session means for j, the job
// that was waiting for it, and for the host.
func (p *hostPool) openFailed(j *job, err error) {
	v := p.v
	if v.ctx.Err() != nil {
		j.finish(probeResult{status: Unknown, reason: ReasonTimeout, detail: "verifier closed"})
		return
	}
	var re *replyError
	switch {
	case errors.As(err, &re):
		st, rs := classifySession(re.Reply)
		reply := re.Reply
		res := probeResult{status: st, reason: rs, reply: &reply,
			detail: fmt.Sprintf("%s refused the session at %s", p.name, re.Stage)}
		switch {
		case rs == ReasonGreylisted:
			v.greylist(j, res)
		case reply.Code >= 400 && reply.Code < 500:
			// 421 and other 4xx before RCPT: the host is busy or limits
			// us. Slow down and let fewer sessions carry the queue.
			p.busy(j, res)
		default:
			// A 5xx before RCPT refuses us, not the recipient; another
			// MX of the domain may still answer (RFC 5321 §5.1).
			p.markDown(j, hostDown{res: res, failover: true})
		}
	case errors.Is(err, errProtocol):
		p.markDown(j, hostDown{failover: true, res: probeResult{status: Unknown, reason: ReasonProtocol, detail: p.name + ": " + err.Error()}})
	case isTLSError(err):
		// RFC 3207 §4.1 lets the client go on without TLS; so do MTAs.
		p.mu.Lock()
		p.noTLS = true
		p.mu.Unlock()
		p.retry(j, probeResult{status: Unknown, reason: ReasonConnection, detail: p.name + ": " + err.Error()})
	case isTimeout(err):
		p.markDown(j, hostDown{failover: true, res: probeResult{status: Unknown, reason: ReasonTimeout, detail: p.name + ": " + describeNetErr(err)}})
	case isDialError(err):
		p.markDown(j, hostDown{failover: true, res: probeResult{status: Unknown, reason: ReasonConnection, detail: p.name + ": " + describeNetErr(err)}})
	default:
		// Dropped during the greeting: count it, retry a few times.
		p.mu.Lock()
		p.failures++
		n := p.failures
		p.mu.Unlock()
		res := probeResult{status: Unknown, reason: ReasonConnection, detail: p.name + ": " + describeNetErr(err)}
		if n >= hostFailures {
			p.markDown(j, hostDown{failover: true, res: res})
			return
		}
		p.retry(j, res)
	}
}

// busy backs the host off after a 421-like refusal.
func (p *hostPool) busy(j *job, res probeResult) {
	p.mu.Lock()
	p.failures++
	n := p.failures
	p.backoff = min(max(2*p.backoff, p.v.cfg.Backoff), maxBackoff)
	p.backoffUntil = time.Now().Add(p.backoff)
	// The server said how many sessions it tolerates: one fewer than
	// were open.
	p.limit = max(1, min(p.limit, p.workers-1))
	p.mu.Unlock()
	if n >= hostFailures+2 {
		p.markDown(j, hostDown{failover: true, res: res})
		return
	}
	p.retry(j, res)
}

// retry puts j back at the front of the queue, or gives it res when it has
// been tried enough.
func (p *hostPool) retry(j *job, res probeResult) {
	j.attempts++
	if j.attempts >= maxAttempts {
		j.finish(res)
		return
	}
	p.enqueue(j, true)
}

// markDown takes the host out of use for downTTL and moves its queued jobs
// (and j) on to their next MX host.
func (p *hostPool) markDown(j *job, d hostDown) {
	d.until = time.Now().Add(downTTL)
	p.mu.Lock()
	p.down = &d
	q := p.queue
	p.queue = nil
	p.mu.Unlock()
	p.v.hostFailed(j, d)
	for _, qj := range q {
		p.v.hostFailed(qj, d)
	}
}

// hostFailed moves j to the next MX host of its domain, or finishes it with
// the down host's result.
func (v *Verifier) hostFailed(j *job, d hostDown) {
	if d.failover && j.hostIdx+1 < len(j.target.hosts) {
		j.hostIdx++
		j.attempts = 0
		v.submit(j)
		return
	}
	j.finish(d.res)
}

// ask sends j's RCPT on s. It returns the session to go on with, or nil when
// the session is gone, and whether the worker must leave because the host
// is backed off.
func (p *hostPool) ask(s *session, j *job) (*session, bool) {
	v := p.v
	if j.target.utf8 && !s.smtputf8() {
		// RFC 6531 §3.2: without SMTPUTF8 the server cannot take a UTF-8
		// mailbox name, and neither can any relay in front of it.
		j.finish(probeResult{status: Undeliverable, reason: ReasonSMTPUTF8, starttls: s.tls,
			detail: p.name + " does not offer SMTPUTF8, required for a non-ASCII local part"})
		return s, false
	}
	if s.rcptsTxn >= v.cfg.RcptPerTransaction {
		if err := s.reset(); err != nil {
			s.close()
			p.retry(j, probeResult{status: Unknown, reason: ReasonConnection, detail: p.name + ": RSET failed: " + err.Error()})
			return nil, false
		}
	}
	r, err := s.rcpt(j.target.rcpt)
	if err != nil {
		s.close()
		reason := ReasonConnection
		if isTimeout(err) {
			reason = ReasonTimeout
		}
		res := probeResult{status: Unknown, reason: reason, starttls: s.tls, detail: p.name + ": RCPT: " + describeNetErr(err)}
		if reason == ReasonTimeout {
			// A server that stops answering mid-session is a tarpit:
			// give up on the job rather than wait again.
			p.mu.Lock()
			p.failures++
			n := p.failures
			p.mu.Unlock()
			if n >= 2 {
				p.markDown(j, hostDown{failover: false, res: res})
				return nil, false
			}
			j.attempts = maxAttempts - 1
		}
		// Servers drop sessions after too many unknown recipients
		// (anti-harvesting); a new session carries on.
		p.retry(j, res)
		return nil, false
	}
	if r.Code != 421 {
		// The host answers: whatever went wrong before is behind us.
		p.mu.Lock()
		p.failures, p.backoff = 0, 0
		p.mu.Unlock()
	}
	reply := r
	res := probeResult{reply: &reply, starttls: s.tls}
	res.status, res.reason = classifyRcpt(r)
	e := replyEnhanced(r)
	switch {
	case r.Code == 421:
		// RFC 5321 §3.8: the server closes the channel. After a session
		// that already answered, it is anti-harvesting: reconnect at once.
		s.close()
		if s.rcptsTxn <= 1 {
			p.busy(j, res)
			return nil, true
		}
		p.retry(j, res)
		return nil, false
	case res.reason == ReasonGreylisted:
		v.greylist(j, res)
	case r.Code == 452 && e.subject == 5 && e.detail == 3 && s.rcptsTxn > 1:
		// RFC 5321 §4.5.3.1.10: too many recipients for this transaction;
		// start another and ask again.
		if err := s.reset(); err != nil {
			s.close()
			p.retry(j, res)
			return nil, false
		}
		p.enqueue(j, true)
	default:
		j.finish(res)
	}
	return s, false
}

// greylist schedules j to be asked again after GreylistRetry, if the budget
// allows (RFC 6647 §2.1: greylisting defers the first attempt of a triplet).
func (v *Verifier) greylist(j *job, res probeResult) {
	now := time.Now()
	if j.greyDeadline.IsZero() {
		j.greyDeadline = j.start.Add(v.cfg.GreylistBudget)
	}
	if v.cfg.GreylistRetry < 0 || now.Add(v.cfg.GreylistRetry).After(j.greyDeadline) {
		res.detail = "still greylisted when the retry budget ran out"
		j.finish(res)
		return
	}
	time.AfterFunc(v.cfg.GreylistRetry, func() {
		if v.ctx.Err() != nil {
			j.finish(probeResult{status: Unknown, reason: ReasonTimeout, detail: "verifier closed"})
			return
		}
		j.attempts = 0
		v.submit(j)
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func isDialError(err error) bool {
	var op *net.OpError
	return (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, syscall.ECONNREFUSED)
}

func isTLSError(err error) bool { return errors.Is(err, errStartTLS) }

// errStartTLS marks a failed TLS handshake after STARTTLS.
var errStartTLS = errors.New("starttls handshake")

func describeNetErr(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed by the server"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case isTimeout(err):
		return "timed out: " + err.Error()
	}
	return err.Error()
}

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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/publicsuffix"
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
	prov *provider

	mu           sync.Mutex
	addrs        []netip.Addr
	queue        []*job
	workers      int // sessions running or waiting for a slot
	idle         int // sessions waiting for work
	opening      int // sessions started that have not yet been greeted (or refused)
	limit        int // sessions allowed now: grows while the host answers cleanly
	ceiling      int // most sessions the host tolerated (a 421 when more were opened); 0 unknown
	throttles    int // times the host made us slow down
	throttleWhy  []string
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
		// Start polite: one session, more while the host keeps up.
		p = &hostPool{v: v, name: h.name, limit: 1, wake: make(chan struct{}, v.cfg.PerHost)}
		p.prov = v.providerLocked(h)
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
		if p.workers == 0 && len(p.queue) == 0 && (p.down == nil || now.After(p.down.until)) && p.throttles == 0 {
			delete(v.hosts, k)
			p.prov.forget(p)
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
	if !p.prov.acquire(p) {
		return // the provider's other hosts use its sessions; release wakes us
	}
	p.workers++
	p.opening++
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

// nextBatch returns up to n queued jobs, or nil when the session should
// end (the worker is then already counted out).
func (p *hostPool) nextBatch(n int) []*job {
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
			n = min(n, len(p.queue))
			batch := slices.Clone(p.queue[:n])
			clear(p.queue[:n])
			p.queue = p.queue[n:]
			p.mu.Unlock()
			return batch
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

// requeue puts unanswered jobs back at the front of the queue, in order,
// without counting an attempt: the server never answered them.
func (p *hostPool) requeue(jobs []*job) {
	for i := len(jobs) - 1; i >= 0; i-- {
		p.enqueue(jobs[i], true)
	}
}

func (p *hostPool) work() {
	v := p.v
	defer v.workers.Done()
	defer p.prov.release()
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

	// Until its session is open (or has failed to), this worker counts
	// as opening: grow waits for it, so a host is never asked for another
	// session before it has answered the last one it was asked for.
	greeted := false
	settle := func() {
		if !greeted {
			greeted = true
			p.mu.Lock()
			p.opening--
			p.mu.Unlock()
		}
	}
	defer settle()
	var s *session
	defer func() {
		if s != nil {
			s.quit()
		}
	}()
	per := v.cfg.RcptPerTransaction
	for {
		// RSET only when needed: recipients of a transaction that never
		// reaches DATA cost nothing to keep, so a session goes on adding
		// RCPTs until the transaction is full.
		room := per
		if s != nil && s.inTxn {
			room = per - s.rcptsTxn
			if room <= 0 {
				room = per
			}
		}
		batch := p.nextBatch(room)
		if batch == nil {
			return
		}
		live := batch[:0]
		for _, j := range batch {
			if err := j.ctx.Err(); err != nil {
				j.finish(probeResult{status: Unknown, reason: ReasonTimeout, detail: "verification cancelled: " + err.Error()})
				continue
			}
			live = append(live, j)
		}
		if len(live) == 0 {
			continue
		}
		if s == nil {
			var err error
			s, err = p.open()
			settle()
			if err != nil {
				p.requeue(live[1:])
				p.openFailed(live[0], err)
				p.leave()
				return
			}
			if s.slowBanner {
				p.throttle("slow banner", 0)
			}
		}
		var leave bool
		s, leave = p.askBatch(s, live)
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
	// were open. It is never asked for more again.
	ceiling := max(1, p.workers-1)
	p.mu.Unlock()
	why := "421"
	if res.reply != nil {
		why = strconv.Itoa(res.reply.Code)
		if res.reply.Enhanced != "" {
			why += " " + res.reply.Enhanced
		}
	}
	p.throttle(why, ceiling)
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

// askBatch asks about jobs in the session's current transaction, sending
// the RCPTs together when the server offers PIPELINING (RFC 2920) and one
// by one otherwise. Each reply is classified on its own, as if asked
// alone. It returns the session to go on with, or nil when the session is
// gone, and whether the worker must leave because the host is backed off.
func (p *hostPool) askBatch(s *session, jobs []*job) (*session, bool) {
	v := p.v
	ask := jobs[:0:0]
	for _, j := range jobs {
		if j.target.utf8 && !s.smtputf8() {
			// RFC 6531 §3.2: without SMTPUTF8 the server cannot take a
			// UTF-8 mailbox name, and neither can any relay in front of it.
			j.finish(probeResult{status: Undeliverable, reason: ReasonSMTPUTF8, starttls: s.tls,
				detail: p.name + " does not offer SMTPUTF8, required for a non-ASCII local part"})
			continue
		}
		ask = append(ask, j)
	}
	if len(ask) == 0 {
		return s, false
	}
	reset := !s.inTxn || s.rcptsTxn+len(ask) > v.cfg.RcptPerTransaction
	rcpts := make([]string, len(ask))
	for i, j := range ask {
		rcpts[i] = j.target.rcpt
	}
	replies, err := s.rcpts(rcpts, reset)
	if err != nil {
		var re *replyError
		if errors.As(err, &re) {
			// RSET or MAIL refused: the host turned us away, not the
			// recipients.
			s.close()
			p.requeue(ask[1:])
			p.openFailed(ask[0], err)
			return nil, true
		}
	}
	clean := true
	for i, j := range ask {
		if i >= len(replies) {
			// The conversation broke before this reply.
			s.close()
			rest := ask[i:]
			reason := ReasonConnection
			if isTimeout(err) {
				reason = ReasonTimeout
			}
			res := probeResult{status: Unknown, reason: reason, starttls: s.tls, detail: p.name + ": RCPT: " + describeNetErr(err)}
			if reason == ReasonTimeout {
				// A server that stops answering mid-session is a tarpit:
				// give up on the job rather than wait again.
				p.throttle("timeout", 0)
				p.mu.Lock()
				p.failures++
				n := p.failures
				p.mu.Unlock()
				if n >= 2 {
					p.requeue(rest[1:])
					p.markDown(rest[0], hostDown{failover: false, res: res})
					return nil, false
				}
				rest[0].attempts = maxAttempts - 1
			}
			// Servers drop sessions after too many unknown recipients
			// (anti-harvesting); a new session carries on. Only the first
			// unanswered job pays an attempt when the session answered
			// something: the others were never asked.
			if s.answered > 0 {
				p.requeue(rest[1:])
			} else {
				for _, r := range rest[1:] {
					r.attempts++
				}
				p.requeue(rest[1:])
			}
			p.retry(rest[0], res)
			return nil, false
		}
		r := replies[i]
		reply := r
		res := probeResult{reply: &reply, starttls: s.tls}
		res.status, res.reason = classifyRcpt(r)
		e := replyEnhanced(r)
		switch {
		case r.Code == 421:
			// RFC 5321 §3.8: the server closes the channel. After a session
			// that already answered, it is anti-harvesting: reconnect at
			// once; as the first answer, the host is busy.
			s.close()
			p.requeue(ask[i+1:])
			if s.answered == 0 {
				p.busy(j, res)
				return nil, true
			}
			p.retry(j, res)
			return nil, false
		case res.reason == ReasonGreylisted:
			v.greylist(j, res)
		case r.Code == 452 && e.subject == 5 && e.detail == 3 && s.rcptsTxn > 1:
			// RFC 5321 §4.5.3.1.10: too many recipients for this
			// transaction; the next batch starts another.
			s.rcptsTxn = v.cfg.RcptPerTransaction
			p.enqueue(j, true)
		case r.Code >= 400 && r.Code < 500 && e.subject == 7:
			// 4.7.x that is not greylisting: a rate limit on us.
			clean = false
			j.finish(res)
		default:
			j.finish(res)
		}
	}
	if clean {
		// The host answers: whatever went wrong before is behind us.
		p.mu.Lock()
		p.failures, p.backoff = 0, 0
		p.mu.Unlock()
		p.grow()
	} else {
		p.throttle("rate limit (4.7.x)", 0)
	}
	return s, false
}

// greylist schedules j to be asked again after GreylistRetry, if the budget
// allows (RFC 6647 §2.1: greylisting defers the first attempt of a triplet).
func (v *Verifier) greylist(j *job, res probeResult) {
	now := time.Now()
	if j.greyDeadline.IsZero() {
		// The budget counts from the first greylisting reply: time the
		// address spent queued behind other work is not greylisting's.
		j.greyDeadline = now.Add(v.cfg.GreylistBudget)
	}
	if v.cfg.GreylistRetry < 0 || now.Add(v.cfg.GreylistRetry).After(j.greyDeadline) {
		res.detail = "still greylisted when the retry budget ran out"
		j.finish(res)
		return
	}
	if park, ok := j.ctx.Value(parkKey{}).(func()); ok {
		// The caller may give our place to other work while we wait.
		park()
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

// Adaptive concurrency per destination (additive increase, multiplicative
// decrease, as TCP's congestion control): a host starts with one session
// and gets one more after each cleanly answered batch (once the last one
// added has been greeted) while its queue
// holds more than two transactions' worth per session, up to
// Config.PerHost; a 421, a 4.7.x rate limit, a timeout or a slow banner
// halves its sessions at once. A 421 while k sessions were open sets a
// ceiling of k-1 that is never exceeded again.

// grow adds a session when the host keeps up and has work for it.
func (p *hostPool) grow() {
	p.mu.Lock()
	max := p.v.cfg.PerHost
	if p.ceiling > 0 {
		max = min(max, p.ceiling)
	}
	per := p.v.cfg.RcptPerTransaction
	if p.limit < max && p.workers >= p.limit && p.opening == 0 && len(p.queue) > 2*per*p.workers {
		p.limit++
		p.startLocked()
	}
	p.mu.Unlock()
	p.prov.grow()
}

// throttle halves the host's sessions (and its provider's), noting why;
// a positive ceiling caps them for good.
func (p *hostPool) throttle(why string, ceiling int) {
	p.mu.Lock()
	p.throttles++
	if !slices.Contains(p.throttleWhy, why) && len(p.throttleWhy) < 4 {
		p.throttleWhy = append(p.throttleWhy, why)
	}
	if ceiling > 0 && (p.ceiling == 0 || ceiling < p.ceiling) {
		p.ceiling = ceiling
	}
	p.limit = max(1, p.limit/2)
	if p.ceiling > 0 {
		p.limit = min(p.limit, p.ceiling)
	}
	p.mu.Unlock()
	p.prov.throttle()
}

// provider groups MX hosts run by one operator: hosts under one
// registrable domain (mx1.provider.example and mx2.provider.example) or
// sharing an IP address. Its sessions, over all its hosts, grow and
// shrink like a host's, up to Config.PerProvider, so a provider that
// throttles one of its hosts is not hammered through another.
type provider struct {
	v    *Verifier
	name string

	mu      sync.Mutex
	active  int
	limit   int
	waiting []*hostPool
}

// providerLocked returns h's provider; v.mu is held.
func (v *Verifier) providerLocked(h mxHost) *provider {
	for _, ip := range h.addrs {
		if pr := v.provByIP[ip]; pr != nil {
			return pr
		}
	}
	key := h.name
	if d, err := publicsuffix.EffectiveTLDPlusOne(strings.TrimSuffix(h.name, ".")); err == nil {
		key = d
	}
	pr := v.providers[key]
	if pr == nil {
		pr = &provider{v: v, name: key, limit: 2}
		v.providers[key] = pr
	}
	for _, ip := range h.addrs {
		v.provByIP[ip] = pr
	}
	return pr
}

func (pr *provider) acquire(p *hostPool) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.active >= pr.limit {
		if !slices.Contains(pr.waiting, p) {
			pr.waiting = append(pr.waiting, p)
		}
		return false
	}
	pr.active++
	return true
}

// release frees a session and lets a waiting host of the provider start
// one. No host lock may be held.
func (pr *provider) release() {
	pr.mu.Lock()
	pr.active--
	pr.wakeWaitingUnlock()
}

// grow adds a session to the provider's budget when it is all in use.
func (pr *provider) grow() {
	pr.mu.Lock()
	if pr.active >= pr.limit && pr.limit < pr.v.cfg.PerProvider {
		pr.limit++
	}
	pr.wakeWaitingUnlock()
}

// wakeWaitingUnlock unlocks pr and lets the hosts that waited for one of
// its sessions try again (each under its own lock, never under pr's).
func (pr *provider) wakeWaitingUnlock() {
	w := pr.waiting
	pr.waiting = nil
	pr.mu.Unlock()
	for _, p := range w {
		p.mu.Lock()
		p.startLocked()
		p.mu.Unlock()
	}
}

func (pr *provider) throttle() {
	pr.mu.Lock()
	pr.limit = max(1, pr.limit/2)
	pr.mu.Unlock()
}

func (pr *provider) forget(p *hostPool) {
	pr.mu.Lock()
	pr.waiting = slices.DeleteFunc(pr.waiting, func(q *hostPool) bool { return q == p })
	pr.mu.Unlock()
}

// Throttle is a host that made the verifier slow down.
type Throttle struct {
	Host     string   `json:"host"`
	Provider string   `json:"provider"`
	Times    int      `json:"times"`
	Why      []string `json:"why"`      // e.g. "421 4.7.0", "rate limit (4.7.x)", "slow banner", "timeout"
	Sessions int      `json:"sessions"` // sessions allowed at the end
}

// Throttled lists the hosts that throttled this Verifier, most often
// first.
func (v *Verifier) Throttled() []Throttle {
	v.mu.Lock()
	pools := make([]*hostPool, 0, len(v.hosts))
	for _, p := range v.hosts {
		pools = append(pools, p)
	}
	v.mu.Unlock()
	var out []Throttle
	for _, p := range pools {
		p.mu.Lock()
		if p.throttles > 0 {
			out = append(out, Throttle{Host: p.name, Provider: p.prov.name, Times: p.throttles, Why: slices.Clone(p.throttleWhy), Sessions: p.limit})
		}
		p.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Throttle) int {
		if a.Times != b.Times {
			return b.Times - a.Times
		}
		return strings.Compare(a.Host, b.Host)
	})
	return out
}

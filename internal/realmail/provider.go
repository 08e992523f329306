package realmail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// User is a mailbox of the provider: its address is also its login for
// SMTP AUTH and IMAP.
type User struct {
	Address  string
	Password string
}

// Config describes the provider.
type Config struct {
	// Domain is the rep's domain: mail for it is delivered to Dovecot.
	Domain string
	// Hostname is Postfix's myhostname and the certificate's name
	// (default "smtp." + Domain). It must differ from every next hop's
	// greeting name, or Postfix refuses the hop as a loop to itself.
	Hostname string
	// Users are the domain's mailboxes.
	Users []User
	// Routes maps a recipient domain to the next hop Postfix relays its
	// mail to, "IP:port" on loopback (Postfix's transport_maps with
	// "smtp:[IP]:port"). Mail for any other domain is deferred and, with
	// the queue lifetime of zero, bounced.
	Routes map[string]string
}

// Provider is a running Postfix and Dovecot, on loopback addresses.
type Provider struct {
	// Submission: STARTTLS required, then AUTH, then relay (RFC 6409).
	Submission string
	// MX: mail for Domain from anyone, delivered to Dovecot.
	MX string
	// IMAP: STARTTLS, then LOGIN (plaintext login refused before TLS).
	IMAP string

	cfg          Config
	dir          string
	postfix      *proc
	dovecot      *proc
	mailUID, gid int
}

// imapIP is where Dovecot listens. Not 127.0.0.1: Dovecot counts a
// connection whose remote and local IPs are the same as secure, and would
// accept a password in clear. Linux gives a connection to 127.0.0.2 the
// source 127.0.0.1, so Dovecot sees a client from elsewhere, as in the
// field, and demands STARTTLS.
const imapIP = "127.0.0.2"

// ServerTimeout bounds each wait for the servers to start or stop. A
// failure bound, not a margin: the waits end as soon as the event happens.
var ServerTimeout = 60 * time.Second

// Start runs a provider for the rest of tb, or skips tb (see [Require]).
// On failure of tb the servers' logs are written to the test log.
func Start(tb testing.TB, cfg Config) *Provider {
	tb.Helper()
	Require(tb)
	p, err := start(tb, cfg)
	if err != nil {
		if p != nil {
			p.dumpLogs(tb)
		}
		tb.Fatalf("realmail: %v", err)
	}
	return p
}

func start(tb testing.TB, cfg Config) (*Provider, error) {
	if cfg.Domain == "" {
		return nil, errors.New("Config.Domain is empty")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "smtp." + cfg.Domain
	}
	for d, hop := range cfg.Routes {
		host, _, err := net.SplitHostPort(hop)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("route for %s: %q is not a loopback IP:port: Postfix must not leave this machine", d, hop)
		}
	}
	// Not t.TempDir: Postfix's and Dovecot's processes, running as their
	// own users, must traverse the path to their sockets and Maildirs,
	// and the testing package makes its directories 0700.
	dir, err := os.MkdirTemp("", "touchline-realmail-")
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, dir: dir}
	// The Maildirs belong to nobody: Dovecot refuses to act as root for
	// a mail user, and the provider needs no user of its own.
	nobody, err := user.Lookup("nobody")
	if err != nil {
		return nil, err
	}
	p.mailUID, _ = strconv.Atoi(nobody.Uid)
	p.gid, _ = strconv.Atoi(nobody.Gid)

	ports, err := freePorts("127.0.0.1", 2)
	if err != nil {
		return nil, err
	}
	imapPort, err := freePorts(imapIP, 1)
	if err != nil {
		return nil, err
	}
	ports = append(ports, imapPort...)
	p.Submission = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	p.MX = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	p.IMAP = net.JoinHostPort(imapIP, strconv.Itoa(ports[2]))

	if err := writeCert(p.path("cert.pem"), p.path("key.pem"), cfg.Hostname, "imap."+cfg.Domain); err != nil {
		return nil, err
	}
	// Postfix's queue comes first: Dovecot puts its LMTP and auth sockets
	// in its private/ directory, where Postfix's processes find them
	// relative to the queue (they run with it as working directory).
	if err := p.postfixLayout(); err != nil {
		return p, err
	}
	if err := p.dovecotConfig(ports[2]); err != nil {
		return p, err
	}
	if err := p.postfixConfig(ports[0], ports[1]); err != nil {
		return p, err
	}
	// Both start at once: Postfix opens Dovecot's sockets only when a
	// client authenticates or mail is delivered, after both are ready.
	if p.dovecot, err = startProc(tb, Dovecot, "-F", "-c", p.path("dovecot", "dovecot.conf")); err != nil {
		return p, fmt.Errorf("dovecot: %w", err)
	}
	// master -d stays in the foreground, so the test owns the process
	// tree; -c makes it and every daemon it spawns read our main.cf.
	if p.postfix, err = startProc(tb, PostfixMaster, "-d", "-c", p.path("etc")); err != nil {
		return p, fmt.Errorf("postfix: %w", err)
	}
	if err := p.waitReady(p.dovecot, p.IMAP, "* OK", p.path("queue", "private", "auth"), p.path("queue", "private", "dovecot-lmtp")); err != nil {
		return p, fmt.Errorf("dovecot: %w", err)
	}
	for _, addr := range []string{p.Submission, p.MX} {
		if err := p.waitReady(p.postfix, addr, "220 ", p.path("queue", "pid", "master.pid")); err != nil {
			return p, fmt.Errorf("postfix: %w", err)
		}
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			p.dumpLogs(tb)
		}
	})
	return p, nil
}

func (p *Provider) path(elem ...string) string {
	return filepath.Join(append([]string{p.dir}, elem...)...)
}

// Maildir returns the Maildir of a user (its cur/ and new/ hold the mail).
func (p *Provider) Maildir(address string) string {
	return p.path("mail", address, "Maildir")
}

// Log returns what Postfix and Dovecot logged so far.
func (p *Provider) Log() string {
	var b strings.Builder
	for _, f := range []string{"postfix.log", "dovecot.log"} {
		data, _ := os.ReadFile(p.path(f))
		fmt.Fprintf(&b, "==> %s <==\n%s\n", f, data)
	}
	for _, pr := range []*proc{p.postfix, p.dovecot} {
		if pr != nil && pr.out.Len() > 0 {
			fmt.Fprintf(&b, "==> %s output <==\n%s\n", filepath.Base(pr.cmd.Path), pr.out.String())
		}
	}
	return b.String()
}

func (p *Provider) dumpLogs(tb testing.TB) { tb.Logf("realmail logs under %s:\n%s", p.dir, p.Log()) }

// postfixLayout makes the directories postfix-files would (post-install
// create-missing), with the owners and modes it gives them.
func (p *Provider) postfixLayout() error {
	pf, err := user.Lookup("postfix")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(pf.Uid)
	gid, _ := strconv.Atoi(pf.Gid)
	postdrop := gid
	if g, err := user.LookupGroup("postdrop"); err == nil {
		postdrop, _ = strconv.Atoi(g.Gid)
	}
	mk := func(path string, mode os.FileMode, u, g int) error {
		if err := os.MkdirAll(path, mode); err != nil {
			return err
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
		return os.Chown(path, u, g)
	}
	if err := mk(p.path("etc"), 0o755, 0, 0); err != nil {
		return err
	}
	if err := mk(p.path("queue"), 0o755, 0, 0); err != nil {
		return err
	}
	if err := mk(p.path("queue", "pid"), 0o755, 0, 0); err != nil {
		return err
	}
	if err := mk(p.path("data"), 0o700, uid, 0); err != nil {
		return err
	}
	for _, d := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		if err := mk(p.path("queue", d), 0o700, uid, 0); err != nil {
			return err
		}
	}
	if err := mk(p.path("queue", "maildrop"), 0o730, uid, postdrop); err != nil {
		return err
	}
	return mk(p.path("queue", "public"), 0o710, uid, postdrop)
}

func (p *Provider) postfixConfig(submission, mx int) error {
	c := p.cfg
	var transport strings.Builder
	domains := make([]string, 0, len(c.Routes))
	for d := range c.Routes {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		host, port, _ := net.SplitHostPort(c.Routes[d])
		// Brackets: the next hop is a host, not a domain whose MX to
		// look up (transport(5)).
		fmt.Fprintf(&transport, "%s smtp:[%s]:%s\n", d, host, port)
	}
	var vmailbox strings.Builder
	for _, u := range c.Users {
		fmt.Fprintf(&vmailbox, "%s %s/\n", u.Address, u.Address)
	}
	main := fmt.Sprintf(`# A private Postfix for Touchline's tests (package realmail).
compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = %[1]s
myhostname = %[2]s
mydomain = %[3]s
myorigin = $myhostname
smtpd_banner = $myhostname ESMTP Postfix
biff = no
append_dot_mydomain = no
readme_directory = no
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
# Nothing is delivered locally; the rep's domain goes to Dovecot.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
virtual_mailbox_domains = %[3]s
virtual_mailbox_maps = texthash:%[1]s/etc/vmailbox
virtual_transport = lmtp:unix:private/dovecot-lmtp
# Every next hop is an IP literal: never ask DNS.
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
transport_maps = texthash:%[1]s/etc/transport
# Relaying is for authenticated clients only; the MX service takes mail
# for the rep's domain from anyone.
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_tls_cert_file = %[1]s/cert.pem
smtpd_tls_key_file = %[1]s/key.pem
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
# One delivery attempt, then the DSN (postconf(5): "Specify 0 when mail
# delivery should be tried only once"); no delay warnings.
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
delay_warning_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, p.dir, c.Hostname, c.Domain)
	// Every service unchrooted (the chroot column "n"): the queue is not
	// a chroot jail here and the sockets are where Dovecot put them.
	master := fmt.Sprintf(`# service type private unpriv chroot wakeup maxproc command
127.0.0.1:%d inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:%d inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`, submission, mx)
	for name, data := range map[string]string{"main.cf": main, "master.cf": master, "transport": transport.String(), "vmailbox": vmailbox.String()} {
		if err := os.WriteFile(p.path("etc", name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) dovecotConfig(imapPort int) error {
	c := p.cfg
	if err := os.MkdirAll(p.path("dovecot"), 0o755); err != nil {
		return err
	}
	var users strings.Builder
	for _, u := range c.Users {
		if strings.ContainsAny(u.Address+u.Password, ":\n") {
			return fmt.Errorf("user %q: a passwd-file field cannot hold ':' or a newline", u.Address)
		}
		home := p.path("mail", u.Address)
		if err := os.MkdirAll(home, 0o700); err != nil {
			return err
		}
		if err := os.Chown(home, p.mailUID, p.gid); err != nil {
			return err
		}
		// user:password:uid:gid:gecos:home:shell (passwd-file in the
		// Dovecot documentation); {PLAIN} because the test knows it.
		fmt.Fprintf(&users, "%s:{PLAIN}%s:%d:%d::%s::\n", u.Address, u.Password, p.mailUID, p.gid, home)
	}
	if err := os.Chmod(p.path("mail"), 0o711); err != nil {
		return err
	}
	// Dovecot's auth process reads the file as the dovecot user.
	dv, err := user.Lookup("dovecot")
	if err != nil {
		return err
	}
	dvUID, _ := strconv.Atoi(dv.Uid)
	if err := os.WriteFile(p.path("dovecot", "users"), []byte(users.String()), 0o600); err != nil {
		return err
	}
	if err := os.Chown(p.path("dovecot", "users"), dvUID, 0); err != nil {
		return err
	}
	conf := fmt.Sprintf(`# A private Dovecot for Touchline's tests (package realmail).
protocols = imap lmtp
listen = %[4]s
base_dir = %[1]s/dovecot/run
state_dir = %[1]s/dovecot/state
instance_name = touchline-realmail-%[2]d
log_path = %[1]s/dovecot.log
ssl = required
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
# The 2 s that slow a password guesser would only slow the tests.
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = %[3]d
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/dovecot/users
}
service imap-login {
  inet_listener imap {
    address = %[4]s
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
# Postfix delivers over LMTP and asks Dovecot to check SASL logins;
# both sockets sit in Postfix's queue, owned by postfix.
service lmtp {
  unix_listener %[1]s/queue/private/dovecot-lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
service auth {
  unix_listener %[1]s/queue/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
`, p.dir, imapPort, p.mailUID, imapIP)
	return os.WriteFile(p.path("dovecot", "dovecot.conf"), []byte(conf), 0o644)
}

// waitReady waits until addr greets with prefix and every file exists, or
// the process exits, or ServerTimeout passes.
func (p *Provider) waitReady(pr *proc, addr, prefix string, files ...string) error {
	deadline := time.Now().Add(ServerTimeout)
	for {
		err := greets(addr, prefix)
		if err == nil {
			for _, f := range files {
				if _, ferr := os.Stat(f); ferr != nil {
					err = ferr
					break
				}
			}
		}
		if err == nil {
			return nil
		}
		select {
		case <-pr.done:
			return fmt.Errorf("exited before %s was ready (%v): %v", addr, err, pr.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", ServerTimeout, err)
		}
	}
}

func greets(addr, prefix string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, prefix) {
		return fmt.Errorf("%s greeted %q", addr, strings.TrimSpace(line))
	}
	return nil
}

// freePorts returns n TCP ports the kernel just had free on ip.
// Postfix and Dovecot bind them themselves, so there is a window in which
// another process could take one; startup then fails with "Address already
// in use" in the logs.
func freePorts(ip string, n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ClosedPort returns "127.0.0.1:port" where nothing listens: a next hop
// that refuses connections, as a mail host that is down does.
func ClosedPort() (string, error) {
	ports, err := freePorts("127.0.0.1", 1)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), nil
}

// proc is a server process the test owns.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startProc(tb testing.TB, path string, args ...string) (*proc, error) {
	pr := &proc{cmd: exec.Command(path, args...), out: &syncBuffer{}, done: make(chan struct{})}
	pr.cmd.Stdout, pr.cmd.Stderr = pr.out, pr.out
	// Its own process group, so a signal for the test's process group
	// (Ctrl-C) reaches the servers through the cleanup below only.
	// Pdeathsig: a test binary killed by its timeout runs no cleanup,
	// and the servers must not outlive it holding their ports.
	pr.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	pr.cmd.Env = slices.DeleteFunc(os.Environ(), func(s string) bool { return strings.HasPrefix(s, "MAIL_CONFIG=") })
	if err := pr.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { pr.err = pr.cmd.Wait(); close(pr.done) }()
	tb.Cleanup(func() {
		// Both servers stop their children and exit on SIGTERM.
		pr.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-pr.done:
		case <-time.After(ServerTimeout):
			syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			<-pr.done
		}
	})
	return pr, nil
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

package realmail

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"

	"github.com/touchline/touchline/internal/pgtest"
)

// Binaries the package runs, and where Debian installs them.
const (
	PostfixMaster = "/usr/lib/postfix/sbin/master"
	Dovecot       = "/usr/sbin/dovecot"
)

// missing lists what Start needs and this machine lacks, and says
// whether this process runs as root.
func missing() ([]string, bool) {
	var out []string
	for _, b := range []struct{ path, pkg string }{{PostfixMaster, "postfix"}, {Dovecot, "dovecot-imapd"}} {
		if _, err := exec.LookPath(b.path); err != nil {
			out = append(out, fmt.Sprintf("%s (Debian package %s)", b.path, b.pkg))
		}
	}
	// Dovecot's LMTP server is in dovecot-lmtpd on some releases and in
	// dovecot-core on others; what counts is the binary.
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		out = append(out, "/usr/lib/dovecot/lmtp (Debian package dovecot-lmtpd or dovecot-core)")
	}
	for _, name := range []string{"postfix", "dovecot", "dovenull"} {
		if _, err := user.Lookup(name); err != nil {
			out = append(out, "the system user "+name+" (made by the packages)")
		}
	}
	return out, os.Geteuid() == 0
}

// Require skips tb when Postfix, Dovecot or root is missing, saying how to
// get them; in CI ($CI set) it fails instead, since a skipped test there
// would pass for a test that ran.
func Require(tb testing.TB) {
	tb.Helper()
	m, root := missing()
	if len(m) == 0 && root {
		return
	}
	var msg string
	if len(m) > 0 {
		msg = "real mail servers unavailable: missing " + strings.Join(m, ", ") +
			". Install them as root with `DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-imapd dovecot-lmtpd` " +
			"(`make test` does this when it can)"
	}
	if !root {
		if msg != "" {
			msg += "; "
		}
		msg += "the real-mail tests must run as root: Postfix's master and Dovecot start as root and drop to their own users"
	}
	if pgtest.InCI() {
		tb.Fatal(msg + " (CI is set: this is a failure, not a skip)")
	}
	tb.Skip(msg)
}

// Package realmail runs the mail servers a sales rep's company really
// uses - Debian's Postfix and Dovecot - as private instances on loopback,
// so Touchline's tests can send, bounce and poll through them and not only
// through the simulated world of package mailsim.
//
// [Start] builds one [Provider]: the rep's domain as a self-hosted mail
// provider runs it.
//
//   - Postfix's submission service (RFC 6409) accepts mail only over
//     STARTTLS (RFC 3207, smtpd_tls_security_level=encrypt) and only
//     from an authenticated client (RFC 4954 AUTH PLAIN/LOGIN, checked by
//     Dovecot's SASL service against the provider's users). It relays to
//     the next hops [Config.Routes] names, with Postfix's own smtp client,
//     and writes its own delivery status notifications (RFC 3464) to the
//     envelope sender when a next hop refuses a recipient or cannot be
//     reached.
//   - Postfix's MX service takes mail for the rep's domain from anyone
//     (RFC 5321, port 25 in the field) and delivers it over LMTP (RFC 2033)
//     to Dovecot, which files it in each user's Maildir.
//   - Dovecot's IMAP service (RFC 3501) offers STARTTLS and refuses a
//     plaintext login before it.
//
// Everything lives under one temporary directory: Postfix's config_directory,
// queue_directory and data_directory, Dovecot's base_dir, state and
// configuration, the Maildirs, a self-signed certificate made for the run,
// and both servers' logs. No service is chrooted, nothing listens outside
// 127.0.0.0/8, and Postfix never asks DNS: every next hop is an IP literal
// (smtp_dns_support_level=disabled). Queue timing is shortened so a DSN
// comes from the first failed attempt (maximal_queue_lifetime=0: "tried
// only once"), not days later; tests wait for it to arrive.
//
// The servers need root (Postfix's master and Dovecot drop privileges to
// their own users); [Require] skips a test that cannot have them, and
// fails it in CI.
package realmail

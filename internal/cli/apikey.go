package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/touchline/touchline/internal/store"
)

func init() {
	register("apikey", "API keys: apikey create --workspace NAME | create --operator | list | revoke ID", runAPIKey)
}

const apikeyUsage = `Usage:
  touchline apikey create --workspace NAME [--name LABEL]   a key for one workspace's API and dashboard
  touchline apikey create --operator [--name LABEL]         a key for the River UI and /metrics (no workspace's data)
  touchline apikey list [--workspace NAME]                   keys (prefix, label, created, last used, revoked); never the keys
  touchline apikey revoke ID                                 revoke a key now; its dashboard sessions end`

func runAPIKey(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, apikeyUsage)
		return ExitUsage
	}
	switch args[0] {
	case "create":
		return runAPIKeyCreate(ctx, env, args[1:])
	case "list":
		return runAPIKeyList(ctx, env, args[1:])
	case "revoke":
		return runAPIKeyRevoke(ctx, env, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(env.Stdout, apikeyUsage)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "touchline apikey: unknown subcommand %q\n%s\n", args[0], apikeyUsage)
	return ExitUsage
}

// apikeyStore opens the database at the current schema.
func apikeyStore(ctx context.Context, env *Env, url string) (*store.Store, int) {
	st, code := openStore(ctx, env, "apikey", url)
	if st == nil {
		return nil, code
	}
	if pending, err := st.Pending(ctx); err != nil || len(pending) > 0 {
		fmt.Fprintf(env.Stderr, "touchline apikey: the database schema is not current (%d migrations pending); run: touchline migrate\n", len(pending))
		st.Close()
		return nil, ExitError
	}
	return st, ExitOK
}

func apikeyURL(env *Env, fsURL *string) {
	if v := env.Getenv("TOUCHLINE_DATABASE_URL"); v != "" {
		*fsURL = v
	}
}

func runAPIKeyCreate(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "apikey create", "apikey create --workspace NAME | --operator [--name LABEL]")
	url := databaseFlag(env, fs)
	workspace := fs.String("workspace", "", "workspace `name` (created if it does not exist)")
	operator := fs.Bool("operator", false, "a key for the operator surfaces (River UI, /metrics) instead; it reaches no workspace's API")
	label := fs.String("name", "", "a `label` for the key, to tell keys apart")
	apikeyURL(env, url)
	if _, err := parseArgs(fs, args); err != nil {
		return flagError(err)
	}
	hasWS := strings.TrimSpace(*workspace) != ""
	if hasWS == *operator {
		fmt.Fprintln(env.Stderr, "touchline apikey create: --workspace is required (or --operator for a River UI and /metrics key, not both)")
		return ExitUsage
	}
	st, code := apikeyStore(ctx, env, *url)
	if st == nil {
		return code
	}
	defer st.Close()
	if *operator {
		key, err := st.CreateOperatorKey(ctx, *label)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline apikey: %v\n", err)
			return ExitError
		}
		fmt.Fprintln(env.Stdout, key)
		fmt.Fprintln(env.Stderr, "Operator key for the River UI and /metrics (shown once; only its hash is stored); it opens no workspace's API")
		return ExitOK
	}
	ws, err := st.EnsureWorkspace(ctx, *workspace)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline apikey: %v\n", err)
		return ExitError
	}
	key, err := st.CreateAPIKey(ctx, ws.ID, *label)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline apikey: %v\n", err)
		return ExitError
	}
	fmt.Fprintln(env.Stdout, key)
	fmt.Fprintf(env.Stderr, "API key for workspace %q (shown once; only its hash is stored)\n", ws.Name)
	return ExitOK
}

func runAPIKeyList(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "apikey list", "apikey list [--workspace NAME]")
	url := databaseFlag(env, fs)
	workspace := fs.String("workspace", "", "only this workspace's keys")
	apikeyURL(env, url)
	if pos, err := parseArgs(fs, args); err != nil {
		return flagError(err)
	} else if len(pos) > 0 {
		fmt.Fprintf(env.Stderr, "touchline apikey list: unexpected argument %q\n", pos[0])
		return ExitUsage
	}
	st, code := apikeyStore(ctx, env, *url)
	if st == nil {
		return code
	}
	defer st.Close()
	keys, err := st.OperatorAPIKeys(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline apikey: %v\n", err)
		return ExitError
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPREFIX\tWORKSPACE\tNAME\tCREATED\tLAST USED\tREVOKED")
	n := 0
	for _, k := range keys {
		if *workspace != "" && k.Workspace != *workspace {
			continue
		}
		n++
		scope := k.Workspace
		if k.Operator {
			scope = "(operator)"
		}
		name := k.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%d\t%s…\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, scope, name,
			k.CreatedAt.UTC().Format(time.RFC3339), when(k.LastUsedAt), when(k.RevokedAt))
	}
	tw.Flush()
	if n == 0 && *workspace != "" {
		fmt.Fprintf(env.Stderr, "touchline apikey list: workspace %q has no keys\n", *workspace)
	}
	return ExitOK
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func runAPIKeyRevoke(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "apikey revoke", "apikey revoke ID")
	url := databaseFlag(env, fs)
	apikeyURL(env, url)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.Stderr, "touchline apikey revoke: give one key ID (the ID column of: touchline apikey list)")
		return ExitUsage
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		fmt.Fprintf(env.Stderr, "touchline apikey revoke: %q is not a key ID (the ID column of: touchline apikey list)\n", pos[0])
		return ExitUsage
	}
	st, code := apikeyStore(ctx, env, *url)
	if st == nil {
		return code
	}
	defer st.Close()
	k, err := st.OperatorRevokeAPIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(env.Stderr, "touchline apikey revoke: no key with ID %d (see: touchline apikey list)\n", id)
		return ExitError
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline apikey: %v\n", err)
		return ExitError
	}
	owner := fmt.Sprintf("workspace %q", k.Workspace)
	if k.Operator {
		owner = "the operator"
	}
	fmt.Fprintf(env.Stdout, "revoked key %d (%s…) of %s\n", k.ID, k.Prefix, owner)
	return ExitOK
}

/** The CLI's help texts: `reelay --help`, `reelay <command> [<sub>] --help`. */
export const HELP: Record<string, string> = {
  main: `usage: reelay <command> [options]

commands:
  keys create --name NAME [--credit USD] [--models a,b] [--rpm N] [--max-inflight N] [--max-downloads N] [--expires ISO] [--webhook-url URL]
  keys list
  keys show ID
  keys update ID [--name NAME] [--webhook-url URL | --no-webhook]
  keys rotate-webhook-secret ID   a new webhook signing secret, printed once (the old one signs 24 h more)
  keys revoke ID
  keys credit ID --amount USD [--note TEXT]     (a negative amount as --amount=-5)
  usage export [--from D] [--to D] [--key ID] [--format csv|jsonl|json] [--out FILE]
  usage summary [--group-by key|model|day] [--from D] [--to D] [--key ID]
  requests show ID        request-log rows of a request id (reelay's, client's, upstream's) or video id
  migrate                 apply database migrations (SQLite or PostgreSQL)
  db copy --from FILE --to postgres://…   copy a stopped reelay's SQLite data into an empty PostgreSQL database
  simulator [--port N]    run the upstream simulator alone

Commands work on the database named by DATABASE_URL (default ./data/reelay.db): a SQLite file,
which must exist (only migrate creates it), or postgres://user:password@host:5432/db. With REELAY_URL (a running server's root URL, e.g.
http://127.0.0.1:8080) and ADMIN_TOKEN set, the keys, usage and requests commands go through that
server's admin API instead. Add --help to any command.

exit status: 0 done, 1 nothing found or refused (by the server or the database),
2 bad command line or configuration (a malformed value, a missing database file).`,
  keys: 'usage: reelay keys create|list|show|update|revoke|credit|rotate-webhook-secret …\nRun `reelay keys <sub> --help` for one of them.',
  'keys create': `usage: reelay keys create --name NAME [--credit USD] [--models a,b] [--rpm N] [--max-inflight N] [--max-downloads N] [--expires ISO] [--webhook-url URL]
Prints the new key as JSON, with its secret in "key" (shown only this once).
--max-downloads N: content downloads it may hold open at once (1-1000; default 8).
--webhook-url URL: where the key's webhook events go (http or https); the answer then carries
  "webhook_secret" (whsec_…), which signs them, shown only this once.`,
  'keys list': 'usage: reelay keys list\nPrints all keys as JSON lines, with their webhook_url (never their secrets).',
  'keys show': 'usage: reelay keys show ID\nPrints one key as JSON, with its webhook_url (never a secret).',
  'keys update': `usage: reelay keys update ID [--name NAME] [--webhook-url URL | --no-webhook]

Changes a key and prints it as JSON.
--webhook-url URL: sets where the key's webhook events go (http or https). When the key had no
  endpoint, the answer carries its new "webhook_secret" (whsec_…), shown only this once; changing
  the URL later keeps the secret.
--no-webhook: removes the endpoint and its secrets; no more events are sent for the key.
A URL of the wrong form is exit 2. One that resolves to a loopback, private or link-local address
is refused (exit 1) unless WEBHOOK_ALLOW_PRIVATE=1 (the server's setting, or with DATABASE_URL
this command's environment).`,
  'keys rotate-webhook-secret': `usage: reelay keys rotate-webhook-secret ID

Gives the key a new webhook signing secret and prints the key as JSON with it in "webhook_secret",
shown only this once. The previous secret keeps signing too (both signatures are sent) until
"previous_secret_expires_at", 24 hours from now. Exit 1 when the key has no webhook URL.`,
  'keys revoke': 'usage: reelay keys revoke ID\nRevokes the key: it answers 401 from then on; its history stays.',
  'keys credit': 'usage: reelay keys credit ID --amount USD [--note TEXT]\nA positive amount tops up; a negative one (written --amount=-5) adjusts, never below zero available.',
  usage: 'usage: reelay usage export|summary …\nRun `reelay usage <sub> --help` for one of them.',
  'usage export': `usage: reelay usage export [--from D] [--to D] [--key ID] [--format csv|jsonl|json] [--out FILE]

The billing export: one row per billable job submitted in [from, to), charged or not, oldest
first. D is a date (2026-11-01, midnight UTC) or a timestamp (2026-11-01T12:00:00Z).
Streams to stdout, or to FILE with --out (written to FILE.partial, renamed when complete).
Progress goes to stderr only when stderr is a terminal. Columns: see docs/admin.md.`,
  'usage summary': `usage: reelay usage summary [--group-by key|model|day] [--from D] [--to D] [--key ID]

Totals (jobs, charged jobs, billed seconds, amount in USD) per key (default), model or UTC day
of submission, as JSON on stdout.`,
  requests: 'usage: reelay requests show ID',
  'requests show': `usage: reelay requests show ID

Prints the request-log rows (JSON lines, oldest first) whose reelay, client or upstream request
id is ID, or that concern the video ID. Exits 1 when nothing matches.`,
  migrate:
    'usage: reelay migrate\nApplies pending migrations to DATABASE_URL: a SQLite file (created when missing) or a PostgreSQL database\n(under a lock, so it is safe while other instances start). Exits 1 when PostgreSQL cannot be reached.',
  db: 'usage: reelay db copy --from FILE --to postgres://…\nRun `reelay db copy --help` for details.',
  'db copy': `usage: reelay db copy --from FILE --to postgres://user:password@host:5432/db [--json]

Copies everything in a stopped reelay's SQLite file (keys, jobs, ledger, request log, audit,
idempotency records, characters) into an empty PostgreSQL database, migrating it first when
needed. The copy is one transaction, with ids and sequence numbers kept; before it commits, every
key's balance and held amount, the ledger's totals per kind and each table's row count are
checked on both sides, and any difference rolls it all back. Prints a report (JSON with --json).
The SQLite file is only read. Refuses (exit 1, nothing changed) a target that already holds data;
a --from file that does not exist is exit 2. Stop reelay before copying, then point DATABASE_URL
at the PostgreSQL database.`,
  simulator:
    'usage: reelay simulator [--port 8090] [--host 127.0.0.1] [--duration-ms 3000] [--api-key KEY] [--content-bytes N]\n                        [--accounts N [--upstreams-file PATH]]\nRuns the built-in upstream simulator alone; --accounts N runs N independent accounts (own port and\ncredential each, KEY-1, KEY-2, … with --api-key) and --upstreams-file writes an UPSTREAMS_FILE over them.',
};

/** Commands that take a sub-command (the help key is then `<command> <sub>`). */
export const GROUPS = new Set(['keys', 'usage', 'requests', 'db']);

"""Word lists for the synthetic vault: projects, stacks, nouns, errors, commands, templates.

Data only. Lists are ordered roughly most-common first: `synth` samples them with Zipf-like
weights, so the head words recur across many memories and the tail stays rare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# fmt: off


@dataclass(frozen=True, slots=True)
class Profile:
    """One synthetic project: its ecosystem, its libraries and its domain nouns."""

    name: str
    eco: str  # python, ts, go, rust, ruby, infra
    package: str
    stack: tuple[str, ...]
    nouns: tuple[str, ...]
    services: tuple[str, ...]
    description: str


# Ordered by size: `synth` gives project k a share proportional to 1 / k.
PROFILES: Final = (
    Profile(
        "shop-api", "python", "shop",
        (
            "django", "postgres", "celery", "redis", "pytest", "stripe", "sentry", "gunicorn",
            "django-rest-framework", "factory-boy", "ruff", "mypy", "docker", "nginx", "boto3",
        ),
        (
            "cart", "checkout", "order", "product", "sku", "inventory", "coupon", "customer",
            "shipment", "warehouse", "refund", "price", "discount", "basket", "wishlist",
            "review", "category", "variant", "stock level", "fulfilment", "return label",
            "gift card",
        ),
        ("orders-worker", "catalog-sync", "shop-web"),
        "a Django 5 web store with a Postgres database, Celery workers and a Stripe checkout",
    ),
    Profile(
        "web-frontend", "ts", "web",
        (
            "react", "next.js", "typescript", "vite", "tailwind", "react-query", "zod", "vitest",
            "playwright", "eslint", "prettier", "storybook", "pnpm", "sentry", "msw",
        ),
        (
            "page", "component", "route", "form", "modal", "layout", "theme", "hook", "bundle",
            "locale", "navbar", "data table", "toast", "dropdown", "date picker", "search box",
            "skeleton loader", "error boundary", "server action", "middleware",
        ),
        ("web-app", "edge-renderer", "storybook-site"),
        "the customer-facing Next.js 14 app router site, deployed on Vercel",
    ),
    Profile(
        "billing", "python", "billing",
        (
            "fastapi", "sqlalchemy", "alembic", "postgres", "pydantic", "stripe", "pytest",
            "httpx", "structlog", "uvicorn", "redis", "hypothesis", "uv", "datadog", "tenacity",
        ),
        (
            "invoice", "subscription", "plan", "proration", "ledger", "payment", "tax rate",
            "credit note", "dunning", "usage record", "billing cycle", "currency", "payout",
            "chargeback", "trial", "seat", "quote", "receipt",
        ),
        ("billing-api", "ledger-worker", "invoice-renderer"),
        "the FastAPI billing service that owns subscriptions, invoices and the ledger",
    ),
    Profile(
        "infra", "infra", "infra",
        (
            "terraform", "kubernetes", "helm", "argo-cd", "aws", "github-actions", "docker",
            "prometheus", "grafana", "cert-manager", "external-dns", "vault", "karpenter", "loki",
            "nginx",
        ),
        (
            "cluster", "node pool", "ingress", "certificate", "bucket", "vpc", "secret",
            "helm chart", "runner", "namespace", "load balancer", "dns record", "iam role",
            "autoscaler", "persistent volume", "cron job", "alert rule", "dashboard",
        ),
        ("prod-eks", "staging-eks", "ci-runners"),
        "the Terraform and Helm repo for our AWS accounts, EKS clusters and CI runners",
    ),
    Profile(
        "data-pipeline", "python", "pipeline",
        (
            "airflow", "dbt", "pandas", "polars", "pyarrow", "snowflake", "great-expectations",
            "boto3", "pytest", "duckdb", "s3", "pydantic", "docker", "sqlfluff", "uv",
        ),
        (
            "dag", "table", "partition", "snapshot", "backfill", "schema", "model", "source",
            "incremental model", "seed file", "freshness check", "event stream", "fact table",
            "dimension", "export job", "parquet file",
        ),
        ("airflow-scheduler", "dbt-runner", "events-loader"),
        "the Airflow + dbt pipeline that loads product events into Snowflake every hour",
    ),
    Profile(
        "mobile-app", "ts", "mobile",
        (
            "react-native", "expo", "typescript", "react-navigation", "zustand", "jest", "detox",
            "fastlane", "sentry", "eslint", "hermes", "firebase", "cocoapods", "gradle", "pnpm",
        ),
        (
            "screen", "push notification", "deep link", "build", "release", "crash report",
            "onboarding flow", "tab bar", "splash screen", "offline queue", "app icon",
            "in-app purchase", "permission prompt", "bundle id",
        ),
        ("ios-app", "android-app", "ota-updates"),
        "the React Native (Expo) app for iOS and Android",
    ),
    Profile(
        "auth-service", "go", "auth",
        (
            "go", "chi", "sqlc", "postgres", "pgx", "zap", "testify", "golangci-lint", "jwt-go",
            "redis", "opentelemetry", "docker", "goose", "viper", "cobra",
        ),
        (
            "token", "session", "user", "role", "permission", "oauth client", "refresh token",
            "jwks", "login attempt", "mfa device", "password reset", "audit event", "api key",
            "scope",
        ),
        ("auth-api", "token-issuer", "session-store"),
        "the Go service that issues and verifies every access token and session",
    ),
    Profile(
        "search-indexer", "rust", "indexer",
        (
            "rust", "tokio", "tantivy", "serde", "axum", "tracing", "clap", "anyhow", "sqlx",
            "reqwest", "criterion", "cargo", "rayon", "thiserror", "proptest",
        ),
        (
            "document", "shard", "posting list", "query", "analyzer", "reindex", "segment",
            "tokenizer", "merge policy", "facet", "snippet", "commit point",
        ),
        ("indexer", "query-api", "reindex-job"),
        "the Rust service that builds and serves the product search index with Tantivy",
    ),
    Profile(
        "ml-ranker", "python", "ranker",
        (
            "pytorch", "numpy", "pandas", "scikit-learn", "lightgbm", "mlflow", "ray", "pytest",
            "onnx", "fastapi", "pydantic", "wandb", "cuda", "uv", "docker",
        ),
        (
            "feature", "model", "embedding", "training run", "checkpoint", "eval set", "label",
            "feature store", "ranking head", "learning rate", "batch", "experiment",
        ),
        ("ranker-api", "trainer", "feature-builder"),
        "the learning-to-rank models behind search and recommendations",
    ),
    Profile(
        "cli-tool", "rust", "devctl",
        (
            "rust", "clap", "serde", "tokio", "reqwest", "anyhow", "indicatif", "cargo", "insta",
            "cargo-dist", "dirs", "toml", "tracing", "assert_cmd", "github-actions",
        ),
        (
            "subcommand", "flag", "config file", "release binary", "shell completion", "profile",
            "plugin", "progress bar", "update check", "manifest",
        ),
        ("devctl", "release-pipeline", "homebrew-tap"),
        "`devctl`, the internal Rust CLI developers use to run services locally",
    ),
    Profile(
        "admin-dashboard", "ts", "admin",
        (
            "react", "vite", "typescript", "tanstack-table", "react-query", "zod", "vitest",
            "eslint", "recharts", "msw", "tailwind", "pnpm", "playwright", "react-hook-form",
            "prettier",
        ),
        (
            "table view", "filter", "chart", "export", "permission", "audit log", "bulk action",
            "saved view", "impersonation", "sidebar", "report",
        ),
        ("admin-web", "admin-bff", "reports-job"),
        "the internal admin dashboard for support and finance staff",
    ),
    Profile(
        "notifications", "python", "notify",
        (
            "celery", "redis", "jinja2", "sendgrid", "twilio", "django", "pytest", "sentry",
            "postgres", "flower", "boto3", "mjml", "ruff", "mypy", "docker",
        ),
        (
            "email", "sms", "template", "queue", "webhook", "digest", "unsubscribe link",
            "bounce", "rate limit", "locale", "preference center", "batch send",
        ),
        ("notify-worker", "template-renderer", "digest-scheduler"),
        "the service that renders and sends every email, SMS and push notification",
    ),
    Profile(
        "docs-site", "ts", "docs",
        (
            "astro", "markdown", "mdx", "typescript", "algolia", "tailwind", "pnpm", "vale",
            "playwright", "netlify", "shiki", "prettier", "eslint", "lychee", "github-actions",
        ),
        (
            "page", "sidebar", "search index", "redirect", "code sample", "changelog", "version",
            "callout", "api reference", "tutorial",
        ),
        ("docs-web", "docs-search", "link-checker"),
        "the public developer docs, built with Astro and hosted on Netlify",
    ),
    Profile(
        "payments-sdk", "ts", "payments",
        (
            "typescript", "node", "tsup", "vitest", "undici", "zod", "changesets", "eslint",
            "prettier", "pnpm", "msw", "typedoc", "stripe", "github-actions", "npm",
        ),
        (
            "client", "retry", "idempotency key", "webhook signature", "error class", "request",
            "response", "pagination cursor", "api version", "timeout",
        ),
        ("sdk", "sdk-docs", "sdk-e2e"),
        "the TypeScript SDK we publish to npm for partners integrating our payments API",
    ),
    Profile(
        "legacy-monolith", "ruby", "legacy",
        (
            "rails", "ruby", "mysql", "sidekiq", "rspec", "capybara", "puma", "redis", "bundler",
            "rubocop", "webpacker", "devise", "paperclip", "newrelic", "capistrano",
        ),
        (
            "controller", "model", "job", "partial", "migration", "concern", "serializer",
            "mailer", "asset", "cron task", "admin page", "report",
        ),
        ("monolith-web", "monolith-jobs", "monolith-cron"),
        "the original Rails 5 monolith we are slowly strangling; still serves /account and /admin",
    ),
)

# Libraries and tools any project may mention, most common first.
COMMON_LIBS: Final = (
    "docker", "postgres", "git", "github-actions", "redis", "python", "node", "sentry", "aws",
    "make", "pre-commit", "kubernetes", "nginx", "datadog", "s3", "terraform", "pytest",
    "typescript", "bash", "jq", "curl", "openssl", "homebrew", "sqlite", "grafana", "slack",
    "1password", "cloudflare", "vercel", "fly.io", "heroku", "rabbitmq", "kafka", "elasticsearch",
    "opensearch", "mongodb", "memcached", "pgbouncer", "minio", "localstack", "ngrok", "mkcert",
    "direnv", "asdf", "pyenv", "nvm", "just", "tmux", "ripgrep", "fzf", "shellcheck", "hadolint",
    "trivy", "dependabot", "renovate", "codecov", "sonarqube", "pagerduty", "opsgenie",
    "statuspage", "launchdarkly", "unleash", "auth0", "okta", "keycloak", "temporal", "prefect",
    "dagster", "metabase", "superset", "clickhouse", "timescaledb", "cockroachdb", "dynamodb",
    "bigquery", "pubsub", "cloud-run", "lambda", "step-functions", "sqs", "sns", "eventbridge",
    "cloudwatch", "x-ray", "jaeger", "tempo", "honeycomb", "vector", "fluent-bit", "caddy",
    "traefik", "envoy", "istio", "linkerd",
)

VERSION_MAJORS: Final = {
    "django": (4, 5),
    "postgres": (14, 15, 16),
    "python": (3,),
    "node": (18, 20, 22),
    "react": (18, 19),
    "next.js": (13, 14, 15),
    "typescript": (5,),
    "fastapi": (0,),
    "sqlalchemy": (2,),
    "pydantic": (2,),
    "celery": (5,),
    "redis": (6, 7),
    "terraform": (1,),
    "kubernetes": (1,),
    "go": (1,),
    "rust": (1,),
    "rails": (5, 6),
    "ruby": (2, 3),
    "mysql": (5, 8),
    "airflow": (2,),
    "dbt": (1,),
    "pytorch": (2,),
    "vite": (5,),
}

PERSONS: Final = (
    "Dana", "Priya", "Marco", "Lea", "Tomasz", "Aiko", "Sam", "Jonas", "Fatima", "Chris", "Noor",
    "Mateo", "Ingrid", "Kwame", "Yuki", "Oskar", "Mei", "Rafael", "Hana", "Elif",
)

MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

VERBS: Final = (
    "get", "create", "update", "delete", "list", "sync", "parse", "render", "validate", "load",
    "save", "build", "compute", "fetch", "send", "handle", "process", "refresh", "resolve",
    "apply", "merge", "export", "import", "normalize", "serialize", "schedule", "retry", "cancel",
    "reconcile", "archive", "publish", "verify", "encode", "decode", "migrate", "backfill",
    "index", "rank", "prune", "hydrate", "enqueue", "flush",
)

GENERIC_NOUNS: Final = (
    "config", "request", "response", "user", "event", "batch", "cache", "job", "record",
    "payload", "client", "handler", "session", "token", "file", "report", "query", "result",
    "item", "entry", "message", "context", "settings", "state", "store", "worker", "task",
    "schema", "header", "field", "row", "chunk", "buffer", "snapshot", "manifest", "metric",
)

CONCERNS: Final = (
    "background jobs", "schema migrations", "feature flags", "caching", "rate limiting",
    "auth tokens", "session storage", "file uploads", "search", "email delivery",
    "PDF generation", "metrics", "structured logging", "error tracking", "config loading",
    "dependency injection", "API pagination", "retries", "connection pooling", "end-to-end tests",
    "snapshot tests", "load testing", "secrets management", "deploys", "preview environments",
    "i18n", "date handling", "money arithmetic", "websocket fan-out", "image resizing",
    "CSV exports", "webhook verification", "idempotency keys", "soft deletes", "audit logging",
    "multi-tenancy", "job scheduling", "cache invalidation", "blue-green deploys",
    "database backups", "local dev setup", "code formatting", "type checking", "linting",
    "monorepo builds", "dependency updates", "API versioning", "request validation",
    "serialization", "timezone handling", "tracing", "health checks", "graceful shutdown",
    "queue backpressure", "test fixtures", "fixture data", "seed data", "release notes",
    "semantic versioning", "changelog generation", "code review", "on-call handover",
    "incident postmortems", "access control", "CORS", "CSRF protection",
    "content security policy", "HTTP caching", "CDN purges", "bundle size", "lazy loading",
    "accessibility", "dark mode", "form validation", "optimistic updates", "offline support",
)

PRACTICES: Final = (
    "run `{cmd}` before pushing", "use {lib} for {concern}",
    "write a migration for every model change",
    "keep handlers thin and put the logic in the service layer",
    "pass an explicit timeout to every HTTP call",
    "log with structured fields instead of f-strings",
    "use UTC everywhere and convert to local time only at the edge",
    "store money as integer cents, never floats", "add an index for every foreign key",
    "wrap calls to {svc} in a retry with exponential backoff and jitter",
    "squash-merge PRs with a conventional-commit title",
    "put new environment variables in `{path}` with a comment",
    "mark slow tests so `{cmd}` can skip them", "name test files after the module they test",
    "return early instead of nesting conditionals", "keep one React component per file",
    "colocate tests next to the code in `{dir}`",
    "pin exact versions in the lockfile and let Renovate bump them",
    "use the `{func}` helper instead of building URLs by hand",
    "document every public endpoint in the OpenAPI spec",
    "rebase on main before asking for review", "add a feature flag for anything user-visible",
    "use `{cls}` for all database access in {noun} code",
    "keep Docker images on the slim base and under {num} MB",
)

ANTIPRACTICES: Final = (
    "commit `.env` files", "call the database from a view template", "use naive datetimes",
    "catch bare exceptions in request handlers", "mock the database in integration tests",
    "force-push to main", "edit the generated files in `{dir}`",
    "bump {lib} without reading the changelog", "run migrations from application startup",
    "share a database session across threads",
    "use `{func}` in hot paths: it does a query per row", "put business logic in {lib} signals",
    "log full request bodies: they contain personal data", "hardcode the {svc} URL",
    "depend on test execution order",
    "disable the linter inline without a comment explaining why",
)

PREFERENCES: Final = (
    "short commit messages in the imperative mood", "pytest over unittest", "pnpm over npm",
    "small, focused PRs over big-bang changes", "explicit type hints on every public function",
    "dataclasses over dicts for records", "early returns over nested ifs",
    "descriptive names over comments", "running the full test suite before proposing a commit",
    "answers with the code first and the explanation after",
    "no emojis in commit messages or code comments", "{lib} over {lib2} for new code",
    "plain SQL over the ORM for reports",
    "functional components with hooks, never class components",
    "a failing test first when fixing a bug", "tabs in Makefiles only, spaces everywhere else",
    "British spelling in user-facing copy", "one assertion per test where it reads better",
    "`rg` over `grep` in scripts", "fewer dependencies, even if it means a little more code",
)

SYMPTOMS: Final = (
    "returns stale data after an update", "times out under load",
    "double-charges when the request is retried", "drops the last row of the export",
    "crashes on empty input", "shows times in the wrong timezone", "leaks file descriptors",
    "deadlocks when two workers start at once", "renders twice in development",
    "loses messages during a redeploy", "pins a CPU core at 100% after an hour",
    "returns 500 for filenames with unicode characters", "sends the same email twice",
    "reports the wrong total when a discount applies", "ignores the locale header",
    "fails only on the first run after a deploy", "hangs forever when {svc} is down",
    "quietly truncates long {noun} names", "breaks pagination past page 100",
    "writes a zero-byte file",
)

CONDITIONS: Final = (
    "the cache is cold", "two migrations run in parallel", "the runner has less than 2 GB of RAM",
    "`{env}` is unset", "the test database already exists", "Docker Desktop file sharing is slow",
    "the branch name contains a slash", "running on Apple Silicon", "the lockfile is out of date",
    "the laptop is offline", "a request body starts with a BOM", "more than {num} rows come back",
    "the {noun} has no owner", "tests run with `-n auto`", "the clock jumps at a DST change",
    "the VPN is connected", "{lib} is upgraded to {ver}", "the {svc} pod restarts mid-request",
)

REASONS: Final = (
    "it has first-class async support", "the team already knows it",
    "{project} already uses it, so there is one thing less to learn",
    "benchmarks showed p95 latency drop from {ms} ms to {ms2} ms",
    "{lib2} has been unmaintained since {year}", "it keeps the Docker image under {num} MB",
    "its license is compatible with how we ship", "it type-checks cleanly in strict mode",
    "it supports {concern} out of the box", "we kept hitting `{errshort}` with {lib2}",
    "cold starts got {small}x faster", "it cut CI time by {pct}%",
    "the managed offering removes an on-call burden",
    "it gives us {concern} without extra infrastructure",
    "the API is smaller and harder to misuse",
    "{person} evaluated three options and this one had the fewest sharp edges",
)

QUIRKS: Final = (
    "`{func}` quietly swallows timeouts and returns an empty result",
    "webhooks can arrive out of order, so handlers must be idempotent",
    "{ver} changed the default of `{flag}`", "caches DNS for the life of the process",
    "paginates at 30 items by default and ignores `per_page` above 100",
    "returns HTTP 200 with an error object in the body on validation failures",
    "treats an empty string and null differently in filters",
    "truncates error messages at 255 characters", "needs the `{env}` variable even in tests",
    "rounds half to even, not half up", "does not retry on 429 unless `{flag}` is set",
    "holds a global lock while writing its cache file",
    "emits a deprecation warning on import that breaks `-W error` test runs",
    "reads config from the current directory before the home directory",
    "closes idle connections after {num} seconds without telling the pool",
    "returns timestamps in local time, not UTC",
    "sorts keys case-sensitively, so `Zeta` comes before `alpha`",
    "leaks a thread per client if you never call `close()`",
)

HTTP_CODES: Final = ("400", "401", "403", "404", "409", "422", "429", "500", "502", "503", "504")

ENV_VARS: Final = (
    "DATABASE_URL", "REDIS_URL", "SENTRY_DSN", "AWS_REGION", "LOG_LEVEL", "NODE_OPTIONS",
    "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "CI", "APP_ENV", "FEATURE_NEW_CHECKOUT",
    "STRIPE_API_VERSION", "OTEL_EXPORTER_OTLP_ENDPOINT", "KUBECONFIG", "AWS_PROFILE", "PGSSLMODE",
    "TZ", "WEB_CONCURRENCY", "CELERY_BROKER_URL", "NEXT_PUBLIC_API_URL", "RUST_LOG", "GOFLAGS",
    "BUNDLE_PATH", "UV_CACHE_DIR", "PLAYWRIGHT_BROWSERS_PATH",
)

FLAGS: Final = (
    "strict", "follow_redirects", "autoflush", "retry_on_timeout", "keepalive", "verify",
    "expire_on_commit", "pool_pre_ping", "allow_redirects", "use_tz", "raise_on_error",
    "max_retries", "reuse_port", "compress", "lazy", "eager_defaults",
)

# Errors: `{x}` placeholders are filled by `synth`.
ERRORS: Final = {
    "python": (
        "ModuleNotFoundError: No module named '{module}'",
        'sqlalchemy.exc.OperationalError: connection to server at "{host}" failed: timeout expired',
        'django.db.utils.IntegrityError: duplicate key value violates unique constraint '
        '"{table}_pkey"',
        "RuntimeError: Event loop is closed", "fixture '{fixture}' not found",
        "TypeError: Object of type datetime is not JSON serializable",
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for {cls}",
        "AttributeError: 'NoneType' object has no attribute '{field}'",
        "psycopg.errors.LockNotAvailable: canceling statement due to lock timeout",
        "celery.exceptions.SoftTimeLimitExceeded", "OSError: [Errno 24] Too many open files",
        "KeyError: '{field}'",
        "ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer "
        "certificate",
        "sqlite3.OperationalError: database is locked",
        "RecursionError: maximum recursion depth exceeded while calling a Python object",
        "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0",
        "alembic.util.exc.CommandError: Multiple head revisions are present",
        "ImportError: cannot import name '{cls}' from partially initialized module '{module}'",
        "httpx.ReadTimeout: timed out", "MemoryError",
    ),
    "ts": (
        "TypeError: Cannot read properties of undefined (reading '{field}')",
        "Error: Hydration failed because the initial UI does not match what was rendered on the "
        "server",
        "Cannot find module '@/{module}' or its corresponding type declarations",
        "ReferenceError: window is not defined",
        'Warning: Each child in a list should have a unique "key" prop',
        "FetchError: request to {host} failed, reason: ECONNREFUSED",
        "TS2345: Argument of type 'string | undefined' is not assignable to parameter of type "
        "'string'",
        "Error: Too many re-renders. React limits the number of renders to prevent an infinite "
        "loop",
        'ERR_PNPM_OUTDATED_LOCKFILE Cannot install with "frozen-lockfile"',
        "JavaScript heap out of memory",
        "Unhandled Runtime Error: Invariant: headers() expects to have requestAsyncStorage",
        "ESLint: React Hook useEffect has a missing dependency: '{field}'",
        "TimeoutError: page.waitForSelector: Timeout 30000ms exceeded",
        "SyntaxError: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
    ),
    "go": (
        "panic: runtime error: invalid memory address or nil pointer dereference",
        "context deadline exceeded",
        'pq: duplicate key value violates unique constraint "{table}_pkey"',
        "dial tcp {host}: connect: connection refused", "fatal error: concurrent map writes",
        "sql: no rows in result set", "http: server gave HTTP response to HTTPS client",
        "json: cannot unmarshal string into Go struct field {cls}.{field} of type int",
        "WARNING: DATA RACE", "go: updates to go.mod needed",
    ),
    "rust": (
        "error[E0502]: cannot borrow `{field}` as mutable because it is also borrowed as immutable",
        "thread 'main' panicked at 'called `Option::unwrap()` on a `None` value'",
        "error[E0277]: `{cls}` cannot be sent between threads safely",
        "Cannot start a runtime from within a runtime",
        "error: linking with `cc` failed: exit status: 1",
        "LockBusy: failed to acquire index lock", "error[E0599]: no method named `{func}` found",
        "reqwest::Error {{ kind: Request, source: hyper::Error(Connect) }}",
    ),
    "ruby": (
        "ActiveRecord::RecordNotUnique: Mysql2::Error: Duplicate entry for key 'PRIMARY'",
        "NoMethodError: undefined method `{func}' for nil:NilClass",
        "ActionController::InvalidAuthenticityToken", "Sidekiq::Shutdown",
        "Mysql2::Error::ConnectionError: Lost connection to MySQL server during query",
        "ActiveRecord::PendingMigrationError",
        "Bundler::GemNotFound: Could not find {lib} in any of the sources",
        'Capybara::ElementNotFound: Unable to find css "#{field}"',
    ),
    "infra": (
        "Error: error acquiring the state lock", "CrashLoopBackOff", "OOMKilled (exit code 137)",
        "ImagePullBackOff: manifest unknown",
        "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
        "x509: certificate has expired or is not yet valid",
        "AccessDenied: User is not authorized to perform: s3:PutObject",
        "0/6 nodes are available: 6 Insufficient memory",
        "Error: Provider produced inconsistent final plan",
        "The runner has received a shutdown signal",
    ),
    "any": (
        "429 Too Many Requests", "502 Bad Gateway", "ETIMEDOUT", "ECONNRESET",
        "Permission denied (publickey)", "No space left on device",
        "fatal: refusing to merge unrelated histories", "Killed: 9", "certificate verify failed",
        "connection reset by peer",
    ),
}

COMMANDS: Final = {
    "python": (
        "uv run pytest -x", "make migrate", "make test", "alembic upgrade head",
        "python manage.py migrate", "ruff check --fix .", "mypy --strict {package}",
        "uv sync --frozen", "pytest -k {test} -x -vv", "python manage.py shell_plus",
        "celery -A {package} worker -l info", "uvicorn {package}.main:app --reload",
        'alembic revision --autogenerate -m "{noun}"',
        "pip-compile requirements.in", "python -m {package}.scripts.{func}",
        "coverage run -m pytest && coverage html",
    ),
    "ts": (
        "pnpm install --frozen-lockfile", "pnpm test", "pnpm dev", "pnpm build",
        "pnpm lint --fix", "pnpm exec playwright test --project=chromium", "pnpm typecheck",
        "npx prisma migrate dev", "pnpm storybook", "pnpm vitest run {module}", "pnpm changeset",
        "npx tsc --noEmit", "pnpm exec next build --debug",
    ),
    "go": (
        "go test ./... -race", "golangci-lint run", "sqlc generate", "goose up",
        "go run ./cmd/{service}", "go mod tidy", "make proto",
        "go test -run {test} ./internal/...",
    ),
    "rust": (
        "cargo test", "cargo clippy --all-targets -- -D warnings", "cargo fmt --check",
        "cargo build --release", "cargo nextest run", "cargo bench", "cargo insta review",
        "cargo run -- {func} --verbose", "cargo update -p {lib}",
    ),
    "ruby": (
        "bin/rails db:migrate", "bundle exec rspec", "bundle exec rubocop -a",
        "bin/rails console", "bundle exec sidekiq", "bin/rails assets:precompile",
        "bundle update {lib} --conservative",
    ),
    "infra": (
        "terraform plan -out=tfplan", "terraform apply tfplan",
        "kubectl rollout restart deploy/{service}",
        "helm upgrade --install {service} ./charts/{service}", "kubectl get pods -n {service}",
        "argocd app sync {service}", "terraform init -upgrade",
        "kubectl logs -f deploy/{service}", "aws sso login --profile prod",
        "terraform state rm {noun}",
    ),
    "any": (
        "docker compose up -d db", "docker compose logs -f", "make lint",
        "git bisect run make test", "pre-commit run --all-files", "gh pr create --fill",
        "gh run rerun --failed", "./scripts/bootstrap.sh", "direnv allow", "just setup",
    ),
}

PATH_ROOTS: Final = {
    "python": (
        "{package}/{sub}/{name}.py", "tests/{sub}/test_{name}.py", "{package}/{name}.py",
        "migrations/versions/{num}_{name}.py", "scripts/{name}.py",
        "{package}/settings/{name}.py",
    ),
    "ts": (
        "src/components/{Name}.tsx", "src/hooks/use{Name}.ts", "src/lib/{name}.ts",
        "app/{sub}/page.tsx", "src/{sub}/{name}.test.ts", "e2e/{name}.spec.ts",
    ),
    "go": (
        "internal/{sub}/{name}.go", "cmd/{service}/main.go", "internal/{sub}/{name}_test.go",
        "db/queries/{name}.sql", "migrations/{num}_{name}.sql",
    ),
    "rust": (
        "src/{sub}/{name}.rs", "src/{name}.rs", "tests/{name}.rs", "benches/{name}.rs",
        "crates/{sub}/src/lib.rs",
    ),
    "ruby": (
        "app/models/{name}.rb", "app/controllers/{sub}/{name}_controller.rb",
        "app/jobs/{name}_job.rb", "spec/{sub}/{name}_spec.rb", "db/migrate/{num}_{name}.rb",
        "lib/tasks/{name}.rake",
    ),
    "infra": (
        "modules/{sub}/main.tf", "envs/prod/{name}.tf", "charts/{service}/values.yaml",
        ".github/workflows/{name}.yml", "k8s/{sub}/{name}.yaml", "ansible/{name}.yml",
    ),
}

HOSTS: Final = (
    "localhost:5432", "127.0.0.1:6379", "db.internal:5432", "localhost:8080", "localhost:3000",
    "api.staging.internal", "10.0.3.17:443", "queue.internal:5672", "localhost:9200",
)

# -- memory templates: title and lead sentence per kind ----------------------------------------

TITLES: Final = {
    "decision": (
        "Use {lib} for {concern}", "Chose {lib} over {lib2} for {concern}",
        "Decision: {concern} goes through {lib}", "Why {project} uses {lib}",
        "Moved {concern} from {lib2} to {lib}", "{concern} design in {service}",
    ),
    "convention": (
        "Convention: {concern}", "Always {practice}", "Never {antipractice}",
        "{noun} naming convention", "How we structure {concern} code", "Code style for {dir}",
    ),
    "bugfix": (
        "Fix for {errshort} in {service}", "{errshort} when {cond}", "Bug: {noun} {symptom}",
        "{func} {symptom}", "Fixed flaky {test}", "Root cause of {errshort}",
    ),
    "preference": (
        "User prefers {pref}", "Preference: {pref}", "Prefer {pref}",
    ),
    "workaround": (
        "Workaround: {lib} {quirkshort}", "Pin {lib} to {ver} until the upstream fix",
        "Workaround for {errshort}", "Temporary patch for {noun} {symptom}",
    ),
    "environment": (
        "{service} runs on {platform}", "Local dev needs {lib} {ver}", "Staging database is {db}",
        "Where {service} logs go", "How to run {service} locally", "CI setup for {project}",
        "Ports used by {project} locally",
    ),
    "failure": (
        "Flaky test: {test}", "CI fails when {cond}", "`{cmd}` hangs when {cond}",
        "Recurring {errshort} in {service}", "Deploys of {service} fail when {cond}",
    ),
    "quirk": (
        "{lib} quirk: {quirkshort}", "{lib} {ver} gotcha", "Gotcha: {lib} and {concern}",
        "{lib} returns {code} when {cond}",
    ),
    "identity": (
        "{project} overview", "What {project} is", "{project} architecture", "{project} stack",
    ),
    "archival": (
        "One-off: {noun} backfill in {month} {year}", "Historical: we used to use {lib2}",
        "Old incident: {errshort} in {month}", "Temporary {noun} migration ({month} {year})",
    ),
}

LEADS: Final = {
    "decision": (
        "We use {libv} for {concern} in {project} because {reason}.",
        "Decided to go with {lib} rather than {lib2} for {concern}: {reason}.",
        "{concern} now goes through {lib}. The main reason: {reason}.",
        "After trying {lib2} for a few weeks we switched {concern} to {lib}, since {reason}.",
        "For {concern} in {service} we picked {libv}; {reason}.",
    ),
    "convention": (
        "Always {practice}.", "Never {antipractice}.",
        "Our convention for {concern}: {practice}.",
        "In {project} we {practice}; reviewers will ask for it.",
        "House rule: {practice}, and never {antipractice}.",
    ),
    "bugfix": (
        "`{err}` in {service} was caused by {cause}. Fixed in `{path}` by {fix}.",
        "The {noun} {symptom}. Root cause: {cause}. The fix was {fix}.",
        "When {cond}, `{func}` {symptom}. We fixed it by {fix} (see `{path}`).",
        "Fixed: `{err}` raised from `{path}`. It happened because {cause}.",
        "{test} was failing intermittently with `{errshort}`; the cause was {cause}, so we "
        "{fixpast}.",
    ),
    "preference": (
        "The user prefers {pref}.",
        "{person} prefers {pref} and asked to keep it that way in {project}.",
        "Preference noted: {pref}. Apply it to every change in {project}.",
        "When working in {project}, the user wants {pref}.",
    ),
    "workaround": (
        "{lib} {quirk}. Until it is fixed upstream we {fixpast} in `{path}`.",
        "Workaround for `{err}`: {fix}. Remove it once {lib} {ver} is out.",
        "We pinned {lib} to {ver} because {ver2} breaks {concern} with `{errshort}`.",
        "`{cmd}` fails with `{errshort}` when {cond}; run it with `{env}=1` instead.",
    ),
    "environment": (
        "{service} runs on {platform} and talks to {db} at `{host}`.",
        "Local development of {project} needs {libv} and `{env}` set; start it with `{cmd}`.",
        "The staging database for {project} is {db}; credentials come from the vault, never from "
        "`.env`.",
        "Logs for {service} go to {logsink}; search them by `request_id`.",
        "CI for {project} runs on {platform} with {small} parallel jobs; the main workflow is "
        "`{path}`.",
        "{project} uses port {port} locally for {service} and {port2} for {db}.",
    ),
    "failure": (
        "{test} fails about once in {num} runs when {cond}; it is a timing issue, not a real bug.",
        "CI fails with `{errshort}` when {cond}. Re-running the job does not help; {fix} does.",
        "`{cmd}` hangs when {cond}. Kill it, then {fix}.",
        "Every few weeks {service} logs `{err}`; it always follows {cause}.",
        "Deploys of {service} fail when {cond}: the health check times out after {small}0 seconds.",
    ),
    "quirk": (
        "{lib} {quirk}.", "Gotcha: {lib} {quirk}; this bit us in {service}.",
        "{libv} {quirk}, so {service} has to handle it explicitly.",
        "Watch out: the {svcext} API returns {code} when {cond}, not a proper error.",
    ),
    "identity": (
        "This project is {description}.",
        "{project} is {description}. The main services are {services}.",
        "The {project} codebase is built on {stacklist}.",
        "Architecture of {project}: {services}, backed by {db}; entry point `{path}`.",
    ),
    "archival": (
        "One-off backfill of {noun} data in {month} {year}: ran `{cmd}` by hand; no longer "
        "relevant.",
        "Historical: we used to use {lib2} for {concern} before moving to {lib}.",
        "Temporary migration of {noun} records during {month} {year}; the script was deleted "
        "afterwards.",
        "Old incident from {month} {year}: `{errshort}` in {service}, caused by {cause}. Archived.",
    ),
}

CAUSES: Final = (
    "a missing index on the {noun} table",
    "a race between two workers picking up the same {noun}",
    "a naive datetime compared with an aware one",
    "the connection pool being exhausted by a leaked session",
    "a retry without an idempotency key", "a stale cache entry that was never invalidated",
    "an N+1 query in `{func}`", "{lib} {ver} changing the default of `{flag}`",
    "the fixture reusing the same {noun} id across tests",
    "an unbounded `SELECT` over {noun} rows", "a timeout shorter than the slowest {svcext} call",
    "a shadowed variable in `{func}`", "the build cache keeping an old lockfile",
    "mixed line endings in `{path}`", "an off-by-one in the pagination cursor",
    "a missing `await` before `{func}`", "memory growth from a module-level cache",
    "the cron schedule running in UTC while the report assumed local time",
)

FIXES: Final = (
    "adding an index on `{field}`", "taking a row lock with `SELECT ... FOR UPDATE`",
    "making the handler idempotent", "passing `{flag}=True` explicitly",
    "moving the call into a background job", "caching the {noun} lookup for {small} minutes",
    "batching writes in chunks of {num}", "clearing the cache key on every {noun} update",
    "using `{func}` instead of the raw query",
    "raising the timeout to {small}0 seconds and adding a retry", "pinning the base image digest",
    "running `{cmd}` first", "converting to UTC at the boundary",
    "wrapping the block in a transaction",
)

FIXES_PAST: Final = (
    "added an index on `{field}`", "wrapped the call in a retry with backoff",
    "patched `{func}` locally", "set `{flag}` explicitly",
    "made the test use a fresh {noun} per run", "vendored the fixed version",
    "disabled the feature behind `{env}`", "switched the test to a fake {svcext} client",
)

DETAILS: Final = (
    "The relevant code lives in `{path}`.", "See `{path}` for the details.",
    "Introduced in PR #{pr}.", "Tracked in {ticket}.",
    "{person} confirmed this on {month} {day}.", "This bit us again in {month} {year}.",
    "Check it with `{cmd}`.", "The entry point is `{func}` in `{path}`.",
    "It also affects {service}.", "Related: {concern}.", "The failing command was `{cmd}`.",
    "Error seen: `{err}`.", "It only shows up when {cond}.",
    "Measured: {ms} ms before, {ms2} ms after.",
    "Do not revert this without talking to {person}.", "The config key is `{flag}` in `{path}`.",
    '{lib} docs describe this under "{concern}".',
    "The test that covers it is {test}.", "We considered {lib2} but {reason}.",
    "Affects {pct}% of {noun} requests.", "`{env}` controls it per environment.",
    "Version in use: {libv}.", "The dashboard for this is in {logsink}.",
    "Owner: {person} ({team} team).", "Rollback plan: revert the PR and run `{cmd}`.",
    "Also documented in the {project} README under {concern}.",
    "{svcext} support confirmed it is expected behaviour.",
    "Callers should use `{cls}` rather than touching the {noun} directly.",
    "Applies to every {noun} created after {month} {year}.",
    "A regression test in `{path}` guards it.",
)

PLATFORMS: Final = (
    "EKS (prod) and kind (local)", "Fly.io", "Vercel", "Cloud Run", "a single EC2 box",
    "GitHub Actions hosted runners", "self-hosted runners on Hetzner", "Heroku", "Render",
    "ECS Fargate", "Lambda behind API Gateway", "Netlify",
)

LOG_SINKS: Final = (
    "Datadog", "Grafana Loki", "CloudWatch", "Sentry", "Honeycomb", "the ELK stack", "Papertrail",
    "Google Cloud Logging",
)

EXTERNAL_SERVICES: Final = (
    "Stripe", "GitHub", "Twilio", "SendGrid", "Slack", "Shopify", "Salesforce", "HubSpot",
    "Zendesk", "Intercom", "Algolia", "Mapbox", "Auth0", "Okta", "PayPal", "Adyen", "Plaid",
    "Segment", "Mixpanel", "Cloudflare", "OpenAI", "Google Maps", "Apple App Store", "Firebase",
)

TEAMS: Final = ("platform", "payments", "growth", "data", "mobile", "core", "infra", "search")

# -- queries ---------------------------------------------------------------------------------

QUESTIONS: Final = (
    "how do we run the migrations?", "how do I run {service} locally?",
    "why did we choose {lib} over {lib2}?", "why do we use {lib} for {concern}?",
    "what's the fix for {errshort}?", "what causes {errshort} in {service}?",
    "which version of {lib} do we pin?", "where do {service} logs go?",
    "what port does {service} use locally?", "how do we handle {concern} in {project}?",
    "is {test} still flaky?", "what's our convention for {concern}?",
    "what does the user prefer for commit messages?", "what is {project}?",
    "what database does {project} use?", "why does `{cmd}` hang?", "any gotchas with {lib}?",
    "how do we deploy {service}?", "what did we decide about {concern}?",
    "how does {svcext} send webhooks?",
)

KEYWORDS: Final = (
    "{lib} {concern}", "{errshort}", "{lib} {ver}", "{noun} {concern}", "{service} deploy",
    "{lib} timeout", "{cmd}", "{func}", "{project} {lib}", "{test} flaky", "{svcext} webhook",
    "{env}", "{noun} {symptomshort}",
)

PROMPTS: Final = (
    "fix the failing test in {path}, it raises {errshort}",
    "add {concern} to {service} using {lib}", "the {noun} page {symptom}, can you look into it?",
    "refactor {func} so it stops doing a query per {noun}",
    "upgrade {lib} to {ver} and fix whatever breaks", "CI is red again: {errshort} when {cond}",
    "write tests for {func} in {path}", "set up {lib} in {project} for {concern}",
    "why is {service} slow when {cond}?", "please review my change to {path} for {concern}",
)

OFF_TOPIC: Final = (
    "best sourdough hydration for a beginner", "what time is the football match tonight",
    "recommend a novel about lighthouses", "how tall is mount kilimanjaro",
    "translate good morning into finnish", "lyrics of an old sea shanty",
    "knitting pattern for a winter scarf", "how to repot an orchid",
)
# fmt: on

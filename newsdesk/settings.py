"""Newsdesk settings, read from the environment.

With nothing set, Newsdesk runs on an embedded default: a SQLite file under ./data and Celery
tasks executed in-process, so a newcomer's first command works with only Python and uv. Setting
DATABASE_URL and REDIS_URL (or CELERY_BROKER_URL) switches to the real stack.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is convenient in development; real deployments set the environment directly.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


def env_bool(name: str, default: bool) -> bool:
    """A boolean from the environment; a value that is neither refuses to start, not guesses."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a boolean: use true/false, 1/0, yes/no or on/off."
        ) from None


DEBUG = env_bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off Newsdesk refuses to start on a guessable key: "
            "set SECRET_KEY to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = "django-insecure-newsdesk-development-only"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

DATA_DIR = Path(env.str("NEWSDESK_DATA_DIR", default=str(BASE_DIR / "data")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "newsdesk.apps.NewsdeskConfig",
    "articles",
    "stories",
    "tags",
]

MIDDLEWARE = [
    "newsdesk.health.HealthzAnyHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Public pages only: see newsdesk/compression.py for why the admin is sent uncompressed.
    "newsdesk.compression.PublicGZipMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "newsdesk.urls"
WSGI_APPLICATION = "newsdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "newsdesk.context_processors.site",
            ],
        },
    },
]

# SQLite is the embedded default so the first command needs no server; DATABASE_URL selects
# PostgreSQL (postgres://user:pass@host:5432/name) for the real stack and CI.
EMBEDDED = "DATABASE_URL" not in env
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{(DATA_DIR / 'newsdesk.sqlite3').as_posix()}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the web thread read while the in-process poller writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start when missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# With DEBUG on (the embedded default) WhiteNoise serves straight from the app folders. With it
# off, pages link the hashed names collectstatic wrote (the Docker build, or `run` itself), and
# a file missing from the manifest is an error at once rather than an unstyled site.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_MANIFEST_STRICT = True
# Files a site serves at its root (/favicon.ico), from public/.
WHITENOISE_ROOT = BASE_DIR / "public"
# Never gzipped (BREACH): pages holding CSRF tokens that also echo what was typed.
NEWSDESK_UNCOMPRESSED_PREFIXES = ("/admin/",)

# Redis is the broker, the result store and the shared cache that per-host politeness and
# locks rely on across workers. Without it, tasks run in-process and the cache is local memory.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "newsdesk",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Whole hot pages for a few seconds, in each web process's own memory: no network round trip.
CACHES["hot"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "hot-pages",
    "OPTIONS": {"MAX_ENTRIES": 2000},
}

# Security headers. HTTPS-only settings follow SECURE_SSL_REDIRECT so that a plain-HTTP local
# run still works while `check --deploy` is clean for a real deployment.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env_bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy: no inline script anywhere; fetched text is never trusted.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # trafilatura and htmldate narrate every page at INFO; their warnings still show.
        "trafilatura": {"level": "WARNING"},
        "htmldate": {"level": "WARNING"},
        "courlan": {"level": "WARNING"},
    },
}

# --- Newsdesk's own knobs ---------------------------------------------------------------------
# Outbound HTTP (articles/http.py). Loopback and private addresses are refused; the only way
# through is an exact "host:port" listed here (tests allow their own server, `run` its demo).
NEWSDESK_ALLOW_HOSTS = env.list("NEWSDESK_ALLOW_HOSTS", default=[])
# The longest Retry-After obeyed (seconds); a longer one is cut to this.
NEWSDESK_MAX_RETRY_AFTER = env.float("NEWSDESK_MAX_RETRY_AFTER", default=6 * 3600.0)
# New entries taken from one feed per poll, newest first; the rest are taken on the next polls.
NEWSDESK_MAX_NEW_ENTRIES_PER_POLL = env.int("NEWSDESK_MAX_NEW_ENTRIES_PER_POLL", default=200)
NEWSDESK_USER_AGENT = env.str(
    "NEWSDESK_USER_AGENT", default=f"Newsdesk/0.1 (+{SITE_URL}/about/; news aggregator)"
)
NEWSDESK_HTTP_CONNECT_TIMEOUT = env.float("NEWSDESK_HTTP_CONNECT_TIMEOUT", default=5.0)
NEWSDESK_HTTP_READ_TIMEOUT = env.float("NEWSDESK_HTTP_READ_TIMEOUT", default=15.0)
NEWSDESK_HTTP_TOTAL_TIMEOUT = env.float("NEWSDESK_HTTP_TOTAL_TIMEOUT", default=30.0)
# How long a worker's claim on an article's fetch lasts (seconds): the longest fetch plus a
# margin. A second delivery of the fetch meanwhile does nothing; a crashed worker's claim runs out.
NEWSDESK_FETCH_CLAIM = env.float("NEWSDESK_FETCH_CLAIM", default=NEWSDESK_HTTP_TOTAL_TIMEOUT + 30)
NEWSDESK_HTTP_MAX_BYTES = env.int("NEWSDESK_HTTP_MAX_BYTES", default=10 * 1024 * 1024)
NEWSDESK_HTTP_MAX_REDIRECTS = env.int("NEWSDESK_HTTP_MAX_REDIRECTS", default=5)
# Per-host politeness, shared across workers through the cache (Redis in the real stack).
NEWSDESK_HOST_DELAY = env.float("NEWSDESK_HOST_DELAY", default=1.0)
# Exact "host:port" → delay overrides ("127.0.0.1:8765=0,slow.example=5"): `run` gives its own
# demo site zero delay this way, and every other host keeps NEWSDESK_HOST_DELAY.
NEWSDESK_HOST_DELAYS = {
    host.strip().lower(): float(seconds)
    for host, _, seconds in (
        item.partition("=") for item in env.list("NEWSDESK_HOST_DELAYS", default=[]) if item
    )
}
NEWSDESK_OBEY_ROBOTS = env_bool("NEWSDESK_OBEY_ROBOTS", default=True)

# Polling schedule bounds (seconds) and failure policy.
NEWSDESK_POLL_MIN_INTERVAL = env.int("NEWSDESK_POLL_MIN_INTERVAL", default=15 * 60)
NEWSDESK_POLL_MAX_INTERVAL = env.int("NEWSDESK_POLL_MAX_INTERVAL", default=24 * 3600)
NEWSDESK_POLL_DEFAULT_INTERVAL = env.int("NEWSDESK_POLL_DEFAULT_INTERVAL", default=3600)
NEWSDESK_MAX_FEED_FAILURES = env.int("NEWSDESK_MAX_FEED_FAILURES", default=10)

# Retention (days): raw HTML kept for re-extraction, and poll history for operators.
NEWSDESK_RAW_HTML_RETENTION_DAYS = env.int("NEWSDESK_RAW_HTML_RETENTION_DAYS", default=30)
NEWSDESK_POLL_LOG_RETENTION_DAYS = env.int("NEWSDESK_POLL_LOG_RETENTION_DAYS", default=14)

# Work handed to a worker and not moved on for this long (its message lost to a crash or a
# broker restart) is sent again by the sweep; it must exceed the hard task time limit.
NEWSDESK_STUCK_AFTER = env.int("NEWSDESK_STUCK_AFTER", default=900)
# Retag jobs tag each transaction's articles in a few batched queries; True selects the older
# per-article path (about six queries an article), kept as bench/retag.py's baseline.
NEWSDESK_RETAG_PER_ARTICLE = env_bool("NEWSDESK_RETAG_PER_ARTICLE", default=False)
# A retag chunk stops after this long (seconds) and the next chunk goes on: far inside the
# task time limits however slow the machine.
NEWSDESK_RETAG_CHUNK_SECONDS = env.float("NEWSDESK_RETAG_CHUNK_SECONDS", default=30.0)
# How often beat dispatches pending fetch work (and sweeps); each round sends each host as many
# fetches as its politeness delay allows until the next round.
NEWSDESK_DISPATCH_INTERVAL = env.int("NEWSDESK_DISPATCH_INTERVAL", default=30)
# /metrics answers staff operators, or any client sending "Authorization: Bearer <token>".
NEWSDESK_METRICS_TOKEN = env.str("NEWSDESK_METRICS_TOKEN", default="")

NEWSDESK_PAGE_SIZE = env.int("NEWSDESK_PAGE_SIZE", default=20)
# Hand decisions since the current topic model that queue a new training run (0: never).
NEWSDESK_TRAIN_AFTER_DECISIONS = env.int("NEWSDESK_TRAIN_AFTER_DECISIONS", default=50)
# Seconds a whole topic page is served from the shared cache (0 turns it off): the price is that
# a hidden article or new story can take this long to show.
NEWSDESK_HOT_PAGE_SECONDS = env.int("NEWSDESK_HOT_PAGE_SECONDS", default=10)
# Stories: an article is compared with the stories that had a member in this many days before it.
NEWSDESK_STORY_WINDOW_DAYS = env.int("NEWSDESK_STORY_WINDOW_DAYS", default=3)
NEWSDESK_STORY_MERGE_INTERVAL = env.int("NEWSDESK_STORY_MERGE_INTERVAL", default=600)

# --- Celery -------------------------------------------------------------------------------------
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_RESULT_EXPIRES = 3600
# Tasks report through the database, which operators watch; nobody reads a task's return value.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only once it finished, and re-queued if its worker died: together with
# idempotent tasks this is what makes a killed worker lose nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=400_000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis re-delivers an unacknowledged task after this long; it must exceed the hard time limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "articles.tasks.poll_feed": {"queue": "poll"},
    "articles.tasks.settle_new_feed": {"queue": "poll"},
    "articles.tasks.enqueue_due_feeds": {"queue": "poll"},
    "articles.tasks.fetch_article": {"queue": "fetch"},
    "articles.tasks.dispatch_fetches": {"queue": "poll"},
    "articles.tasks.sweep": {"queue": "poll"},
    "articles.tasks.announce_article": {"queue": "tag"},
    "tags.tasks.*": {"queue": "tag"},
    "stories.tasks.*": {"queue": "tag"},
}
# Each periodic job expires before its next run so a backlog never piles up duplicates.
CELERY_BEAT_SCHEDULE = {
    "enqueue-due-feeds": {
        "task": "articles.tasks.enqueue_due_feeds",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Fetch work is sent from the database's pending articles, fairly across hosts, and work
    # whose message was lost is sent again (see articles.dispatch).
    "dispatch-and-sweep": {
        "task": "articles.tasks.sweep",
        "schedule": float(NEWSDESK_DISPATCH_INTERVAL),
        "options": {"expires": max(1, NEWSDESK_DISPATCH_INTERVAL - 1)},
    },
    "resume-jobs": {
        "task": "tags.tasks.resume_jobs",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Stories: articles assignment missed are placed, stories that grew alike are merged (two
    # workers' first reports of one event), state past the window is dropped, lost restory
    # chunks resume.
    "stories-sweep": {
        "task": "stories.tasks.sweep",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "stories-merge-pass": {
        "task": "stories.tasks.merge_pass",
        "schedule": float(NEWSDESK_STORY_MERGE_INTERVAL),
        "options": {"expires": max(1, NEWSDESK_STORY_MERGE_INTERVAL - 10)},
    },
    "stories-prune": {
        "task": "stories.tasks.prune",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "stories-resume-jobs": {
        "task": "stories.tasks.resume_jobs",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "prune-old-data": {
        "task": "articles.tasks.prune",
        "schedule": 6 * 3600.0,
        "options": {"expires": 3600},
    },
}

# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install --require-hashes --no-deps -r requirements.txt \
    && useradd --system --home /app newsdesk
COPY . .
# With the production settings, so the hashed names and the manifest the site links through are
# written (the key only satisfies the settings; nothing is signed at build time).
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput
USER newsdesk
EXPOSE 8000
CMD ["gunicorn", "newsdesk.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]

-- 0009 webhooks: subscriptions per score or per user, the delivery outbox (claimed with a
-- lease by the senders of every instance: FOR UPDATE SKIP LOCKED), and per-user
-- notifications (@mentions). persistence/webhooks/postgres.py; times are Unix seconds.

CREATE TABLE webhooks (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    score_id    text REFERENCES scores (id) ON DELETE CASCADE,
    url         text NOT NULL,
    events      jsonb NOT NULL,
    secret      text NOT NULL,
    created_at  double precision NOT NULL
);
CREATE INDEX webhooks_by_score ON webhooks (score_id);
CREATE INDEX webhooks_by_owner ON webhooks (owner);

CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    webhook_id    text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event         text NOT NULL,
    payload       jsonb NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    next_at       double precision NOT NULL,
    leased_until  double precision NOT NULL DEFAULT 0,
    created_at    double precision NOT NULL,
    last_status   integer,
    last_error    text,
    delivered_at  double precision,
    dedupe_key    text,
    UNIQUE (webhook_id, dedupe_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    user_id     text NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  double precision NOT NULL,
    read        boolean NOT NULL DEFAULT false
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);

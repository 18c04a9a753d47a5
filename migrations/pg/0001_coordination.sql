CREATE TABLE "admin_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"csrf" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"flash" text DEFAULT '[]' NOT NULL,
	"reveal_once" text
);
--> statement-breakpoint
CREATE TABLE "auth_failures" (
	"address" text NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"version" text NOT NULL,
	"started_at" bigint NOT NULL,
	"heartbeat_at" bigint NOT NULL,
	"stopped_at" bigint
);
--> statement-breakpoint
CREATE TABLE "rate_windows" (
	"key_id" text NOT NULL,
	"window_start" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "rate_windows_key_id_window_start_pk" PRIMARY KEY("key_id","window_start")
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "instance_id" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "instance_id" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "claim_until" bigint;--> statement-breakpoint
CREATE INDEX "admin_sessions_expires_idx" ON "admin_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "auth_failures_address_at_idx" ON "auth_failures" USING btree ("address","at");--> statement-breakpoint
CREATE INDEX "auth_failures_at_idx" ON "auth_failures" USING btree ("at");--> statement-breakpoint
CREATE INDEX "rate_windows_window_idx" ON "rate_windows" USING btree ("window_start");
CREATE TABLE "upstream_health" (
	"id" text PRIMARY KEY NOT NULL,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"cooldown_until" bigint,
	"cooldown_ms" bigint DEFAULT 0 NOT NULL,
	"trial_until" bigint,
	"last_error" text,
	"last_error_at" bigint,
	"manual_enabled" boolean,
	"manual_by" text,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" DROP CONSTRAINT "jobs_video_id_unique";--> statement-breakpoint
ALTER TABLE "characters" ADD COLUMN "upstream_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
-- Character ids are unique per upstream: the inline primary key of 0000_init (id) gives way to (upstream_id, id).
ALTER TABLE "characters" DROP CONSTRAINT "characters_pkey";--> statement-breakpoint
ALTER TABLE "characters" ADD CONSTRAINT "characters_upstream_id_id_pk" PRIMARY KEY("upstream_id","id");--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "upstream_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "request_log" ADD COLUMN "upstream_id" text;--> statement-breakpoint
CREATE INDEX "characters_id_key_idx" ON "characters" USING btree ("id","key_id");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_upstream_video_idx" ON "jobs" USING btree ("upstream_id","video_id");--> statement-breakpoint
CREATE INDEX "jobs_video_idx" ON "jobs" USING btree ("video_id","key_id");--> statement-breakpoint
CREATE INDEX "jobs_upstream_status_idx" ON "jobs" USING btree ("upstream_id","status");
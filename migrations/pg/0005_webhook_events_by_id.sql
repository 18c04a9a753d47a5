DROP INDEX "webhook_events_created_idx";--> statement-breakpoint
DROP INDEX "webhook_events_key_idx";--> statement-breakpoint
CREATE INDEX "webhook_events_key_idx" ON "webhook_events" USING btree ("key_id","id");
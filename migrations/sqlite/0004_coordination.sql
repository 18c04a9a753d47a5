CREATE TABLE `admin_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`csrf` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`flash` text DEFAULT '[]' NOT NULL,
	`reveal_once` text
);
--> statement-breakpoint
CREATE INDEX `admin_sessions_expires_idx` ON `admin_sessions` (`expires_at`);--> statement-breakpoint
CREATE TABLE `auth_failures` (
	`address` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_failures_address_at_idx` ON `auth_failures` (`address`,`at`);--> statement-breakpoint
CREATE INDEX `auth_failures_at_idx` ON `auth_failures` (`at`);--> statement-breakpoint
CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`pid` integer NOT NULL,
	`version` text NOT NULL,
	`started_at` integer NOT NULL,
	`heartbeat_at` integer NOT NULL,
	`stopped_at` integer
);
--> statement-breakpoint
CREATE TABLE `rate_windows` (
	`key_id` text NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`key_id`, `window_start`)
);
--> statement-breakpoint
CREATE INDEX `rate_windows_window_idx` ON `rate_windows` (`window_start`);--> statement-breakpoint
ALTER TABLE `idempotency_keys` ADD `instance_id` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `instance_id` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `claimed_by` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `claim_until` integer;
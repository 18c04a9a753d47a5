CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`owner_id` text,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`expires_at` integer,
	`disabled` integer DEFAULT false NOT NULL,
	`revoked_at` integer,
	`allowed_models` text,
	`rpm_limit` integer,
	`max_inflight_jobs` integer,
	`balance_micros` integer DEFAULT 0 NOT NULL,
	`held_micros` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "api_keys_held_nonnegative" CHECK("api_keys"."held_micros" >= 0),
	CONSTRAINT "api_keys_balance_covers_holds" CHECK("api_keys"."balance_micros" >= "api_keys"."held_micros")
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE INDEX `api_keys_created_idx` ON `api_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target_id` text,
	`request_id` text,
	`details` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_id_unique` ON `audit_log` (`id`);--> statement-breakpoint
CREATE INDEX `audit_created_idx` ON `audit_log` (`created_at`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`key_id` text NOT NULL,
	`idem_key` text NOT NULL,
	`route` text NOT NULL,
	`body_hash` text NOT NULL,
	`state` text NOT NULL,
	`response_status` integer,
	`response_headers` text,
	`response_body` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`key_id`, `idem_key`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`video_id` text,
	`key_id` text NOT NULL,
	`kind` text NOT NULL,
	`model` text NOT NULL,
	`size` text NOT NULL,
	`requested_seconds` integer NOT NULL,
	`billed_seconds` integer,
	`source_video_id` text,
	`status` text NOT NULL,
	`progress` integer,
	`rate_micros` integer NOT NULL,
	`flat_price_micros` integer,
	`held_micros` integer NOT NULL,
	`charged_micros` integer DEFAULT 0 NOT NULL,
	`request_id` text NOT NULL,
	`upstream_request_id` text,
	`final_object` text,
	`error_code` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`completed_at` integer,
	`settled_at` integer,
	`late_completed_at` integer,
	`deleted_at` integer,
	`next_poll_at` integer,
	`poll_failures` integer DEFAULT 0 NOT NULL,
	`not_found_count` integer DEFAULT 0 NOT NULL,
	`last_not_found_at` integer,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_video_id_unique` ON `jobs` (`video_id`);--> statement-breakpoint
CREATE INDEX `jobs_key_created_idx` ON `jobs` (`key_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_status_poll_idx` ON `jobs` (`status`,`next_poll_at`);--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE TABLE `ledger` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`kind` text NOT NULL,
	`amount_micros` integer NOT NULL,
	`key_id` text NOT NULL,
	`job_id` text,
	`terminal` integer DEFAULT false NOT NULL,
	`request_id` text,
	`actor` text NOT NULL,
	`note` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "ledger_amount_positive" CHECK("ledger"."amount_micros" > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_id_unique` ON `ledger` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_one_settlement_per_job` ON `ledger` (`job_id`) WHERE terminal = 1;--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_one_hold_per_job` ON `ledger` (`job_id`) WHERE kind = 'hold';--> statement-breakpoint
CREATE INDEX `ledger_key_idx` ON `ledger` (`key_id`,`seq`);--> statement-breakpoint
CREATE INDEX `ledger_created_idx` ON `ledger` (`created_at`);--> statement-breakpoint
CREATE INDEX `ledger_job_idx` ON `ledger` (`job_id`);--> statement-breakpoint
CREATE TABLE `request_log` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`client_request_id` text,
	`upstream_request_id` text,
	`key_id` text,
	`method` text NOT NULL,
	`route` text NOT NULL,
	`video_id` text,
	`status` integer NOT NULL,
	`error_code` text,
	`duration_ms` integer NOT NULL,
	`upstream_duration_ms` integer,
	`bytes_in` integer DEFAULT 0 NOT NULL,
	`bytes_out` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `request_log_request_id_idx` ON `request_log` (`request_id`);--> statement-breakpoint
CREATE INDEX `request_log_client_id_idx` ON `request_log` (`client_request_id`);--> statement-breakpoint
CREATE INDEX `request_log_upstream_id_idx` ON `request_log` (`upstream_request_id`);--> statement-breakpoint
CREATE INDEX `request_log_video_idx` ON `request_log` (`video_id`);--> statement-breakpoint
CREATE INDEX `request_log_key_idx` ON `request_log` (`key_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `request_log_created_idx` ON `request_log` (`created_at`);
CREATE INDEX `jobs_request_id_idx` ON `jobs` (`request_id`);--> statement-breakpoint
CREATE INDEX `jobs_upstream_request_id_idx` ON `jobs` (`upstream_request_id`);
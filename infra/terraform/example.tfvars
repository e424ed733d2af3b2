# Example inputs: copy, adjust, and keep credentials out of version control
# (or leave them out of the file and export TF_VAR_database_url and friends).

namespace = "cairn"
image     = "registry.example.com/cairn:0.1.0"

# Existing NATS cluster with JetStream, and its credentials (user + password,
# or nats_token instead).
nats_url      = "nats://nats-0.nats.nats.svc:4222,nats://nats-1.nats.nats.svc:4222,nats://nats-2.nats.nats.svc:4222"
nats_user     = "cairn"
nats_password = "change-me"

# Existing PostgreSQL database for metadata.
database_url = "postgres://cairn:change-me@postgres.db.svc:5432/cairn"

# S3-compatible object storage, here MinIO inside the cluster. For AWS S3,
# leave s3_endpoint empty and, with workload identity, the keys too.
s3_bucket            = "cairn"
s3_region            = "us-east-1"
s3_endpoint          = "http://minio.minio.svc:9000"
s3_access_key_id     = "cairn"
s3_secret_access_key = "change-me"

otlp_endpoint = "http://otel-collector.observability.svc:4318"

replicas = {
  ingestion     = 2
  feature_store = 2
  training      = 2
  registry      = 2
  monitor       = 1
}

serving_autoscale = {
  min_replicas    = 2
  max_replicas    = 20
  cpu_utilization = 70
}

cairn_toml = <<-EOT
  [telemetry]
  log_level = "info,cairn_bus=debug"

  [database]
  pool_size = 16
EOT

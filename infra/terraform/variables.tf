variable "kubeconfig_path" {
  description = "Kubeconfig used to reach the cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Kubeconfig context to use; null uses the current one."
  type        = string
  default     = null
}

variable "namespace" {
  description = "Namespace created for Cairn; every resource goes in it."
  type        = string
  default     = "cairn"
}

variable "image" {
  description = "Cairn image (infra/docker/Dockerfile), pinned to a tag or digest, e.g. \"registry.example.com/cairn:0.1.0\"."
  type        = string
}

variable "nats_url" {
  description = "URL of the existing NATS cluster (JetStream enabled); several servers may be given, comma separated."
  type        = string
  default     = "nats://nats.nats.svc:4222"

  validation {
    condition     = alltrue([for url in split(",", var.nats_url) : can(regex("^(nats|tls|ws|wss)://", trimspace(url)))])
    error_message = "Each NATS URL must start with nats://, tls://, ws:// or wss://."
  }
}

variable "nats_user" {
  description = "NATS user, with nats_password. Leave null for token or no authentication."
  type        = string
  default     = null
  sensitive   = true
}

variable "nats_password" {
  description = "NATS password, with nats_user."
  type        = string
  default     = null
  sensitive   = true
}

variable "nats_token" {
  description = "NATS token, instead of nats_user and nats_password."
  type        = string
  default     = null
  sensitive   = true
}

variable "database_url" {
  description = "URL of the existing PostgreSQL database for metadata, e.g. \"postgres://cairn:PASSWORD@postgres.db.svc:5432/cairn\"."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^postgres(ql)?://", var.database_url))
    error_message = "The database URL must be a PostgreSQL URL (postgres:// or postgresql://)."
  }
}

# Object storage reaches the pods as the object_store crate's standard AWS_*
# variables (AWS_BUCKET, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP and the
# credentials), which AmazonS3Builder::from_env reads.
variable "s3_bucket" {
  description = "Bucket for the offline store and model artifacts."
  type        = string
  default     = "cairn"
}

variable "s3_region" {
  description = "Region of the bucket."
  type        = string
  default     = "us-east-1"
}

variable "s3_endpoint" {
  description = "Endpoint of an S3-compatible store such as MinIO, e.g. \"http://minio.minio.svc:9000\"; empty for AWS S3."
  type        = string
  default     = ""
}

variable "s3_access_key_id" {
  description = "Access key id for the bucket; empty to rely on the pod's ambient AWS credentials."
  type        = string
  default     = ""
}

variable "s3_secret_access_key" {
  description = "Secret access key matching s3_access_key_id."
  type        = string
  default     = null
  sensitive   = true
}

variable "otlp_endpoint" {
  description = "OTLP/HTTP endpoint of a collector that receives traces, e.g. \"http://otel-collector.observability.svc:4318\"; empty exports none."
  type        = string
  default     = ""

  validation {
    condition     = var.otlp_endpoint == "" || can(regex("^https?://", var.otlp_endpoint))
    error_message = "The OTLP endpoint must be empty or an http:// or https:// URL."
  }
}

variable "cairn_toml" {
  description = "Contents of the cairn.toml every service reads: non-secret settings that have no variable here (keys as in cairn.example.toml). The CAIRN__* environment variables this configuration sets override it; credentials never belong in it."
  type        = string
  default     = <<-EOT
    # Shared, non-secret settings of every Cairn service; cairn.example.toml
    # lists the keys. NATS, database, telemetry and listener settings arrive as
    # CAIRN__SECTION__KEY environment variables, which override this file.

    [telemetry]
    log_level = "info"
  EOT
}

variable "replicas" {
  description = "Pods per service. Serving scales by serving_autoscale instead."
  type = object({
    ingestion     = optional(number, 2)
    feature_store = optional(number, 2)
    training      = optional(number, 1)
    registry      = optional(number, 2)
    monitor       = optional(number, 1)
  })
  default = {}
  validation {
    condition     = var.replicas.monitor == 1 && var.replicas.training == 1
    error_message = "The monitor (the prediction log's one ordered reader, the loops) and training's orchestrator run as one replica each."
  }
}

variable "serving_autoscale" {
  description = "Replica bounds of serving and the average CPU use, in percent of its request, that the autoscaler aims for."
  type = object({
    min_replicas    = optional(number, 2)
    max_replicas    = optional(number, 10)
    cpu_utilization = optional(number, 70)
  })
  default = {}
}

variable "training_workers" {
  description = "Training workers (`cairn worker`): how many, each one's CPU and memory (a trial uses one core unless its trainer is told otherwise), how long a stopping worker may finish its trial, and an image for external trainers' runtimes (Cairn's own by default)."
  type = object({
    replicas      = optional(number, 2)
    cpu           = optional(string, "1")
    memory        = optional(string, "4Gi")
    grace_seconds = optional(number, 600)
    image         = optional(string, "")
  })
  default = {}

  validation {
    condition     = var.training_workers.replicas >= 0
    error_message = "The worker count cannot be negative."
  }
}

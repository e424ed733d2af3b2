provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}

locals {
  labels = {
    "app.kubernetes.io/part-of"    = "cairn"
    "app.kubernetes.io/managed-by" = "terraform"
  }

  common_env = merge(
    {
      CAIRN__NATS__URL                = var.nats_url
      CAIRN__TELEMETRY__LOG_FORMAT    = "json"
      CAIRN__TELEMETRY__OTLP_ENDPOINT = var.otlp_endpoint
      # The offline store lives in the bucket, shared by every replica.
      CAIRN__STORAGE__OFFLINE_URL = "s3://${var.s3_bucket}/offline"
      AWS_BUCKET                  = var.s3_bucket
      AWS_REGION                  = var.s3_region
    },
    var.s3_endpoint == "" ? {} : {
      AWS_ENDPOINT_URL = var.s3_endpoint
      AWS_ALLOW_HTTP   = tostring(startswith(var.s3_endpoint, "http://"))
    },
    var.s3_access_key_id == "" ? {} : { AWS_ACCESS_KEY_ID = var.s3_access_key_id }
  )

  # Where each service reaches the others: its Kubernetes Service (serving calls the registry).
  service_urls = {
    for name, service in local.services :
    "CAIRN__SERVICES__${upper(replace(name, "-", "_"))}__URL" => "http://cairn-${name}:${service.port}"
  }

  # Only the credentials that are set become keys of the Secret. The pods refer
  # to the optional ones with optional = true, so an unset credential leaves its
  # variable unset rather than empty.
  secret_data = {
    for key, value in {
      "database-url"         = var.database_url
      "nats-user"            = var.nats_user
      "nats-password"        = var.nats_password
      "nats-token"           = var.nats_token
      "s3-secret-access-key" = var.s3_secret_access_key
    } : key => value if value != null && value != ""
  }

  secret_name = kubernetes_secret_v1.cairn.metadata[0].name
  secret_env = {
    CAIRN__DATABASE__URL  = { secret = local.secret_name, key = "database-url" }
    CAIRN__NATS__USER     = { secret = local.secret_name, key = "nats-user", optional = true }
    CAIRN__NATS__PASSWORD = { secret = local.secret_name, key = "nats-password", optional = true }
    CAIRN__NATS__TOKEN    = { secret = local.secret_name, key = "nats-token", optional = true }
    AWS_SECRET_ACCESS_KEY = { secret = local.secret_name, key = "s3-secret-access-key", optional = true }
  }

  services = {
    ingestion = {
      port      = 7410
      replicas  = var.replicas.ingestion
      autoscale = null
      resources = {
        cpu_request    = "250m"
        memory_request = "256Mi"
        cpu_limit      = "1"
        memory_limit   = "1Gi"
      }
    }
    feature-store = {
      port      = 7420
      replicas  = var.replicas.feature_store
      autoscale = null
      resources = {
        cpu_request    = "250m"
        memory_request = "512Mi"
        cpu_limit      = "2"
        memory_limit   = "2Gi"
      }
    }
    training = {
      port      = 7430
      replicas  = var.replicas.training
      autoscale = null
      resources = {
        cpu_request    = "1"
        memory_request = "2Gi"
        cpu_limit      = "4"
        memory_limit   = "8Gi"
      }
    }
    registry = {
      port      = 7440
      replicas  = var.replicas.registry
      autoscale = null
      resources = {
        cpu_request    = "100m"
        memory_request = "128Mi"
        cpu_limit      = "500m"
        memory_limit   = "512Mi"
      }
    }
    serving = {
      port      = 7450
      replicas  = var.serving_autoscale.min_replicas
      autoscale = var.serving_autoscale
      resources = {
        cpu_request    = "500m"
        memory_request = "512Mi"
        cpu_limit      = "2"
        memory_limit   = "2Gi"
      }
    }
    monitor = {
      port      = 7460
      replicas  = var.replicas.monitor
      autoscale = null
      resources = {
        cpu_request    = "250m"
        memory_request = "256Mi"
        cpu_limit      = "1"
        memory_limit   = "1Gi"
      }
    }
  }
}

resource "kubernetes_namespace_v1" "cairn" {
  metadata {
    name = var.namespace
    labels = merge(local.labels, {
      # Every Cairn pod meets the restricted Pod Security Standard; enforcing it
      # holds whatever is added to the namespace later to the same bar.
      "pod-security.kubernetes.io/enforce" = "restricted"
    })
  }
}

resource "kubernetes_config_map_v1" "cairn" {
  metadata {
    name      = "cairn-config"
    namespace = kubernetes_namespace_v1.cairn.metadata[0].name
    labels    = local.labels
  }

  data = {
    "cairn.toml" = var.cairn_toml
  }
}

resource "kubernetes_secret_v1" "cairn" {
  metadata {
    name      = "cairn-secrets"
    namespace = kubernetes_namespace_v1.cairn.metadata[0].name
    labels    = local.labels
  }

  type = "Opaque"
  data = local.secret_data

  lifecycle {
    precondition {
      condition     = (var.nats_user == null) == (var.nats_password == null)
      error_message = "Set nats_user and nats_password together, or neither."
    }
    precondition {
      condition     = var.nats_token == null || var.nats_user == null
      error_message = "Use either nats_token or nats_user and nats_password, not both."
    }
  }
}

module "service" {
  source   = "./modules/cairn-service"
  for_each = local.services

  name       = each.key
  namespace  = kubernetes_namespace_v1.cairn.metadata[0].name
  image      = var.image
  port       = each.value.port
  replicas   = each.value.replicas
  autoscale  = each.value.autoscale
  resources  = each.value.resources
  env        = merge(local.common_env, local.service_urls)
  secret_env = local.secret_env

  config_map = {
    name     = kubernetes_config_map_v1.cairn.metadata[0].name
    checksum = sha256(var.cairn_toml)
  }
}

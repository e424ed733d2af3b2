locals {
  full_name = "cairn-${var.name}"
  # Cairn reads ./cairn.toml, so the working directory is part of the contract.
  work_dir = "/var/lib/cairn"
  port_env = "CAIRN__SERVICES__${upper(replace(var.name, "-", "_"))}__PORT"

  # A Deployment's selector cannot change once created, so it uses only labels
  # that never will.
  selector_labels = {
    "app.kubernetes.io/name"    = local.full_name
    "app.kubernetes.io/part-of" = "cairn"
  }
  labels = merge(local.selector_labels, {
    "app.kubernetes.io/component"  = var.name
    "app.kubernetes.io/managed-by" = "terraform"
  })

  pod_annotations = merge(
    {
      "prometheus.io/scrape" = "true"
      "prometheus.io/port"   = tostring(var.port)
      "prometheus.io/path"   = "/metrics"
    },
    var.config_map == null ? {} : { "cairn.dev/config-sha256" = var.config_map.checksum }
  )

  # The listener settings come last so that var.env cannot move the port away
  # from the probes and the Service.
  env = merge(var.env, {
    CAIRN__HTTP__HOST = "0.0.0.0"
    (local.port_env)  = tostring(var.port)
  })
}

resource "kubernetes_deployment_v1" "this" {
  metadata {
    name      = local.full_name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    # Null under a HorizontalPodAutoscaler: the provider then keeps the live
    # count instead of resetting it on every apply.
    replicas = var.autoscale == null ? var.replicas : null

    selector {
      match_labels = local.selector_labels
    }

    template {
      metadata {
        labels      = local.labels
        annotations = local.pod_annotations
      }

      spec {
        # The services never call the Kubernetes API.
        automount_service_account_token = false
        # Service links would put CAIRN_<SERVICE>_PORT=tcp://... variables for
        # every Service of the namespace into the environment.
        enable_service_links = false

        security_context {
          run_as_non_root = true
          run_as_user     = 10001
          run_as_group    = 10001
          fs_group        = 10001

          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name        = var.name
          image       = var.image
          command     = ["/usr/local/bin/cairn", "serve", var.name]
          working_dir = local.work_dir

          port {
            name           = "http"
            container_port = var.port
          }

          dynamic "env" {
            for_each = local.env
            content {
              name  = env.key
              value = env.value
            }
          }

          dynamic "env" {
            for_each = var.secret_env
            content {
              name = env.key
              value_from {
                secret_key_ref {
                  name     = env.value.secret
                  key      = env.value.key
                  optional = env.value.optional
                }
              }
            }
          }

          resources {
            requests = {
              cpu    = var.resources.cpu_request
              memory = var.resources.memory_request
            }
            limits = {
              cpu    = var.resources.cpu_limit
              memory = var.resources.memory_limit
            }
          }

          # Gives a slow start (connecting to NATS and the database, loading
          # models) a minute before the liveness probe may restart the pod.
          startup_probe {
            http_get {
              path = "/healthz"
              port = "http"
            }
            period_seconds    = 2
            failure_threshold = 30
          }

          liveness_probe {
            http_get {
              path = "/healthz"
              port = "http"
            }
            period_seconds    = 10
            timeout_seconds   = 2
            failure_threshold = 3
          }

          readiness_probe {
            http_get {
              path = "/readyz"
              port = "http"
            }
            period_seconds    = 5
            timeout_seconds   = 2
            failure_threshold = 3
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true

            capabilities {
              drop = ["ALL"]
            }
          }

          # The root file system is read-only: the working directory (holding
          # data_dir, .cairn) and /tmp are scratch space that lives as long as
          # the pod.
          volume_mount {
            name       = "data"
            mount_path = local.work_dir
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          # A sub_path mount does not follow later edits of the ConfigMap; the
          # checksum annotation rolls the pods instead.
          dynamic "volume_mount" {
            for_each = var.config_map == null ? [] : [var.config_map]
            content {
              name       = "config"
              mount_path = "${local.work_dir}/cairn.toml"
              sub_path   = "cairn.toml"
              read_only  = true
            }
          }
        }

        volume {
          name = "data"
          empty_dir {}
        }

        volume {
          name = "tmp"
          empty_dir {}
        }

        dynamic "volume" {
          for_each = var.config_map == null ? [] : [var.config_map]
          content {
            name = "config"
            config_map {
              name = volume.value.name
            }
          }
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "this" {
  metadata {
    name      = local.full_name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    type     = "ClusterIP"
    selector = local.selector_labels

    port {
      name        = "http"
      port        = var.port
      target_port = "http"
    }
  }
}

resource "kubernetes_horizontal_pod_autoscaler_v2" "this" {
  count = var.autoscale == null ? 0 : 1

  metadata {
    name      = local.full_name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    min_replicas = var.autoscale.min_replicas
    max_replicas = var.autoscale.max_replicas

    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = kubernetes_deployment_v1.this.metadata[0].name
    }

    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = var.autoscale.cpu_utilization
        }
      }
    }
  }
}

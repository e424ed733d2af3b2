# Training workers (`cairn worker`): they take trials from the NATS work queue, train them and
# upload the models to the offline store, so they need NATS and the bucket but no Service and no
# database. Add replicas (or nodes) to train more trials at once; a worker that dies gives its
# trial back to the queue. External trainers run inside the worker's container: an image for
# them adds their runtime (Python, scikit-learn, ...) to Cairn's.
resource "kubernetes_deployment_v1" "workers" {
  metadata {
    name      = "cairn-worker"
    namespace = kubernetes_namespace_v1.cairn.metadata[0].name
    labels    = merge(local.labels, { "app.kubernetes.io/name" = "cairn-worker", "app.kubernetes.io/component" = "worker" })
  }

  spec {
    replicas = var.training_workers.replicas

    selector {
      match_labels = { "app.kubernetes.io/name" = "cairn-worker", "app.kubernetes.io/part-of" = "cairn" }
    }

    template {
      metadata {
        labels      = merge(local.labels, { "app.kubernetes.io/name" = "cairn-worker", "app.kubernetes.io/component" = "worker" })
        annotations = { "cairn.dev/config-sha256" = sha256(var.cairn_toml) }
      }

      spec {
        automount_service_account_token = false
        enable_service_links            = false
        # A worker stopped mid-trial finishes it first; past this, the queue hands it to another.
        termination_grace_period_seconds = var.training_workers.grace_seconds

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
          name        = "worker"
          image       = var.training_workers.image == "" ? var.image : var.training_workers.image
          command     = ["/usr/local/bin/cairn", "worker"]
          working_dir = "/var/lib/cairn"

          dynamic "env" {
            for_each = merge(local.common_env, local.service_urls)
            content {
              name  = env.key
              value = env.value
            }
          }

          dynamic "env" {
            for_each = { for key, value in local.secret_env : key => value if key != "CAIRN__DATABASE__URL" }
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
              cpu    = var.training_workers.cpu
              memory = var.training_workers.memory
            }
            limits = {
              cpu    = var.training_workers.cpu
              memory = var.training_workers.memory
            }
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true

            capabilities {
              drop = ["ALL"]
            }
          }

          # Each trial's files and its trainer's scratch space.
          volume_mount {
            name       = "data"
            mount_path = "/var/lib/cairn"
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "config"
            mount_path = "/var/lib/cairn/cairn.toml"
            sub_path   = "cairn.toml"
            read_only  = true
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

        volume {
          name = "config"
          config_map {
            name = kubernetes_config_map_v1.cairn.metadata[0].name
          }
        }
      }
    }
  }
}

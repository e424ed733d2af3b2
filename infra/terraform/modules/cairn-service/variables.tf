variable "name" {
  description = "Service name without the cairn- prefix, e.g. \"feature-store\". The container runs `/usr/local/bin/cairn serve <name>`."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]*[a-z0-9])?$", var.name))
    error_message = "The name must be a DNS label: lowercase letters, digits and hyphens."
  }
}

variable "namespace" {
  description = "Kubernetes namespace to deploy into."
  type        = string
}

variable "image" {
  description = "Container image holding every Cairn binary (built from infra/docker/Dockerfile)."
  type        = string
}

variable "replicas" {
  description = "Number of pods. Ignored when autoscale is set."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 0
    error_message = "The replica count cannot be negative."
  }
}

variable "port" {
  description = "Port the service listens on for its API, /healthz, /readyz and /metrics."
  type        = number

  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "The port must be between 1 and 65535."
  }
}

variable "env" {
  description = "Plain environment variables, e.g. { CAIRN__NATS__URL = \"nats://nats:4222\" }. The module sets CAIRN__HTTP__HOST and CAIRN__SERVICES__<NAME>__PORT itself."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secrets: variable name => { secret, key, optional }. An optional reference whose key is absent leaves the variable unset."
  type = map(object({
    secret   = string
    key      = string
    optional = optional(bool, false)
  }))
  default = {}
}

variable "resources" {
  description = "CPU and memory requests and limits of the container."
  type = object({
    cpu_request    = optional(string, "100m")
    memory_request = optional(string, "128Mi")
    cpu_limit      = optional(string, "1")
    memory_limit   = optional(string, "512Mi")
  })
  default = {}
}

variable "autoscale" {
  description = "When set, a HorizontalPodAutoscaler owns the replica count and scales on average CPU use, in percent of the CPU request."
  type = object({
    min_replicas    = number
    max_replicas    = number
    cpu_utilization = optional(number, 70)
  })
  default = null

  validation {
    condition = var.autoscale == null ? true : (
      var.autoscale.min_replicas >= 1 &&
      var.autoscale.max_replicas >= var.autoscale.min_replicas &&
      var.autoscale.cpu_utilization > 0
    )
    error_message = "Autoscaling needs 1 <= min_replicas <= max_replicas and a positive cpu_utilization."
  }
}

variable "config_map" {
  description = "ConfigMap with a cairn.toml key, mounted read-only as cairn.toml in the working directory (/var/lib/cairn), where Cairn looks for it. Its checksum annotates the pods so that a change of configuration rolls them. Null mounts nothing."
  type = object({
    name     = string
    checksum = string
  })
  default = null
}

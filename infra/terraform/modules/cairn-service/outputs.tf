output "service_name" {
  description = "Name of the ClusterIP Service in front of the pods."
  value       = kubernetes_service_v1.this.metadata[0].name
}

output "url" {
  description = "Base URL of the service inside the cluster."
  value       = "http://${kubernetes_service_v1.this.metadata[0].name}.${var.namespace}.svc:${var.port}"
}

output "namespace" {
  description = "Namespace holding every Cairn resource."
  value       = kubernetes_namespace_v1.cairn.metadata[0].name
}

output "service_urls" {
  description = "Base URL of each service inside the cluster, by service name."
  value       = { for name, service in module.service : name => service.url }
}

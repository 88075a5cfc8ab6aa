{{/* Names and labels shared by every template of the chart. */}}

{{- define "schema-upgrade-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "schema-upgrade-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "schema-upgrade-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schema-upgrade-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "schema-upgrade-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "schema-upgrade-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "schema-upgrade-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "schema-upgrade-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The controller's rules, the same as manifests/rbac.yaml's ClusterRole (both are checked against
the KubeApi calls of the C++ sources by tests/integration/deploy/test_rbac_calls.py); used by the
ClusterRole or, with watchNamespaces, by a Role in each namespace. */}}
{{- define "schema-upgrade-operator.rules" -}}
- apiGroups: ["olympus.io"]
  resources: ["schemaupgrades"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["olympus.io"]
  resources: ["schemaupgrades/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "create", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get"]
{{- end }}

{{/* The Lease rules (leader election), in the release namespace only. */}}
{{- define "schema-upgrade-operator.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end }}

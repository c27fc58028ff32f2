{{- define "ontask.name" -}}ontask{{- end -}}

{{- define "ontask.fullname" -}}
{{- if contains "ontask" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-ontask" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "ontask.labels" -}}
app.kubernetes.io/name: {{ include "ontask.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ontask.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ontask.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "ontask.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "ontask.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "ontask.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- /*
Who else owns the TaskClassifier CRD in the cluster: empty when this release renders it (the
cluster has none, or it is this release's), else the owner in words. `helm template` and a
client-side dry run see no cluster (lookup answers nothing): they render it.
*/ -}}
{{- define "ontask.crdOwner" -}}
{{- $crd := lookup "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" "taskclassifiers.ontask.dev" -}}
{{- if $crd -}}
{{- $annotations := $crd.metadata.annotations | default dict -}}
{{- $release := get $annotations "meta.helm.sh/release-name" -}}
{{- $namespace := get $annotations "meta.helm.sh/release-namespace" -}}
{{- if not $release -}}not Helm (applied by hand or by another tool)
{{- else if not (and (eq $release .Release.Name) (eq $namespace .Release.Namespace)) -}}the Helm release {{ $release }} in namespace {{ $namespace }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "patchbay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; component suffixes are appended to it. */}}
{{- define "patchbay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "patchbay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "patchbay.labels" -}}
helm.sh/chart: {{ include "patchbay.chart" . }}
app.kubernetes.io/name: {{ include "patchbay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: patchbay
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "patchbay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "patchbay.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "patchbay.componentLabels" -}}
{{ include "patchbay.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "patchbay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "patchbay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "patchbay.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the Secret holding one value: its own secretName, else the shared one. */}}
{{- define "patchbay.secretName" -}}
{{- $item := index .root.Values.secrets .item -}}
{{- default .root.Values.secrets.name $item.secretName }}
{{- end }}

{{/* Environment of every process: the ConfigMap plus the secret values. */}}
{{- define "patchbay.env" -}}
- name: EVENTSTORE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "patchbay.secretName" (dict "root" . "item" "eventStoreUrl") }}
      key: {{ .Values.secrets.eventStoreUrl.key }}
{{- if .Values.secrets.mongodbUrl.enabled }}
- name: MONGODB_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "patchbay.secretName" (dict "root" . "item" "mongodbUrl") }}
      key: {{ .Values.secrets.mongodbUrl.key }}
{{- end }}
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every component: (dict "root" $ "component" "x" "values" .Values.x).
*/}}
{{- define "patchbay.podSpec" -}}
serviceAccountName: {{ include "patchbay.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: 30
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod template metadata: (dict "root" $ "component" "x"). */}}
{{- define "patchbay.podMetadata" -}}
metadata:
  labels:
    {{- include "patchbay.selectorLabels" . | nindent 4 }}
    {{- with .root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
    {{- with .root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/* Exec probes running deploy/healthcheck.mjs with the given arguments: (dict "root" $ "args" (list ...)). */}}
{{- define "patchbay.execProbes" -}}
{{- $cmd := concat (list "node" "deploy/healthcheck.mjs") .args -}}
startupProbe:
  exec:
    command: {{ toJson $cmd }}
  {{- toYaml .root.Values.probes.startup | nindent 2 }}
readinessProbe:
  exec:
    command: {{ toJson $cmd }}
  {{- toYaml .root.Values.probes.readiness | nindent 2 }}
livenessProbe:
  exec:
    command: {{ toJson $cmd }}
  {{- toYaml .root.Values.probes.liveness | nindent 2 }}
{{- end }}

{{/* Volumes every pod has: a writable data dir and /tmp on a read-only root filesystem. */}}
{{- define "patchbay.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

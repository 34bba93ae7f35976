{{/*
Names, labels and the VIGIL_* environment shared by the templates.
*/}}

{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's resources: dict "root" $ "component" "api" "suffix" "" */}}
{{- define "vigil.componentName" -}}
{{- $base := printf "%s-%s" (include "vigil.fullname" .root) .component -}}
{{- if .suffix -}}
{{- printf "%s-%s" ($base | trunc (int (sub 62 (len .suffix))) | trimSuffix "-") .suffix -}}
{{- else -}}
{{- $base | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vigil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.version" -}}
{{- default .Chart.AppVersion .Values.image.tag | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: dict "root" $ "component" "writer" */}}
{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The standard labels every resource carries: dict "root" $ "component" "writer" */}}
{{- define "vigil.labels" -}}
helm.sh/chart: {{ include "vigil.chart" .root }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ include "vigil.version" .root | quote }}
app.kubernetes.io/part-of: vigil
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{- define "vigil.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the key every API replica signs page tokens with. */}}
{{- define "vigil.apiPageTokenSecret" -}}
{{- default (include "vigil.componentName" (dict "root" . "component" "api" "suffix" "page-token")) .Values.api.pageTokenKey.existingSecret -}}
{{- end -}}

{{- define "vigil.apiTlsSecret" -}}
{{- default (include "vigil.componentName" (dict "root" . "component" "api" "suffix" "tls")) .Values.api.tls.existingSecret -}}
{{- end -}}

{{/* Kafka settings (every component). */}}
{{/*
Kafka settings of one component: call with (dict "root" $ "component" NAME).
With kafka.auth.users.<component> set, that component authenticates as its
own user (so broker ACLs can give each only the topics it needs);
otherwise as kafka.auth.username.
*/}}
{{- define "vigil.env.kafka" -}}
{{- $auth := .root.Values.kafka.auth }}
{{- $user := get (default (dict) $auth.users) .component | default (dict) }}
- name: VIGIL_KAFKA_BROKERS
  value: {{ .root.Values.kafka.brokers | quote }}
- name: VIGIL_TOPIC_PREFIX
  value: {{ .root.Values.kafka.topicPrefix | quote }}
{{- if $auth.enabled }}
- name: VIGIL_KAFKA_SASL_MECHANISM
  value: {{ $auth.mechanism | quote }}
- name: VIGIL_KAFKA_SASL_USERNAME
  value: {{ $user.username | default $auth.username | quote }}
- name: VIGIL_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $user.existingSecret | default $auth.existingSecret }}
      key: {{ $auth.passwordKey }}
- name: VIGIL_KAFKA_SASL_PASSWORD_FILE
  value: "env:"
{{- end }}
{{- if .root.Values.kafka.tls.enabled }}
- name: VIGIL_KAFKA_TLS
  value: "true"
{{- if .root.Values.kafka.tls.caSecret }}
- name: VIGIL_KAFKA_CA_FILE
  value: /etc/vigil/kafka-ca/ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{/* The brokers' CA certificate (kafka.tls.caSecret): mount and volume. */}}
{{- define "vigil.kafkaCa.mount" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/vigil/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "vigil.kafkaCa.volume" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    defaultMode: 0444
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: ca.crt
{{- end }}
{{- end -}}

{{/* CQL settings (writer, api, setup). */}}
{{- define "vigil.env.cql" -}}
- name: VIGIL_CQL_NODES
  value: {{ .Values.cql.nodes | quote }}
- name: VIGIL_CQL_KEYSPACE
  value: {{ .Values.cql.keyspace | quote }}
- name: VIGIL_CQL_REPLICATION
  value: {{ .Values.cql.replication | int64 | quote }}
- name: VIGIL_EVENT_TTL
  value: {{ .Values.events.ttl | quote }}
{{- if .Values.cql.auth.enabled }}
- name: VIGIL_CQL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.cql.auth.existingSecret }}
      key: {{ .Values.cql.auth.usernameKey }}
- name: VIGIL_CQL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.cql.auth.existingSecret }}
      key: {{ .Values.cql.auth.passwordKey }}
- name: VIGIL_CQL_PASSWORD_FILE
  value: "env:"
{{- end }}
{{- if .Values.cql.tls.enabled }}
- name: VIGIL_CQL_TLS_CA_FILE
  value: /etc/vigil/cql-ca/ca.crt
{{- end }}
{{- end -}}

{{/* The CQL nodes' CA certificate (cql.tls.caSecret): mount and volume. */}}
{{- define "vigil.cqlCa.mount" -}}
{{- if .Values.cql.tls.enabled }}
- name: cql-ca
  mountPath: /etc/vigil/cql-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "vigil.cqlCa.volume" -}}
{{- if .Values.cql.tls.enabled }}
- name: cql-ca
  secret:
    secretName: {{ .Values.cql.tls.caSecret }}
    defaultMode: 0444
    items:
      - key: {{ .Values.cql.tls.caKey }}
        path: ca.crt
{{- end }}
{{- end -}}

{{/* Logging and shutdown (long-running services). */}}
{{- define "vigil.env.runtime" -}}
- name: VIGIL_LOG
  value: {{ .Values.logging.level | quote }}
- name: VIGIL_LOG_JSON
  value: {{ .Values.logging.json | quote }}
- name: VIGIL_SHUTDOWN_GRACE
  value: {{ printf "%ds" (int64 .Values.shutdownGraceSeconds) | quote }}
{{- end -}}

{{/* Topic layout (setup). */}}
{{- define "vigil.env.topics" -}}
- name: VIGIL_TOPIC_REPLICATION
  value: {{ .Values.topics.replication | int64 | quote }}
- name: VIGIL_PARTITIONS_DETECTIONS
  value: {{ .Values.topics.partitions.detections | int64 | quote }}
- name: VIGIL_PARTITIONS_HEARTBEATS
  value: {{ .Values.topics.partitions.heartbeats | int64 | quote }}
- name: VIGIL_PARTITIONS_ENRICHED
  value: {{ .Values.topics.partitions.enriched | int64 | quote }}
- name: VIGIL_PARTITIONS_ALERTS
  value: {{ .Values.topics.partitions.alerts | int64 | quote }}
- name: VIGIL_PARTITIONS_DLQ
  value: {{ .Values.topics.partitions.dlq | int64 | quote }}
{{- end -}}

{{/* Extra env: the global list, then the component's: dict "root" $ "v" .Values.writer */}}
{{- define "vigil.env.extra" -}}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every Vigil pod: dict "root" $ "v" <component values> */}}
{{- define "vigil.podCommon" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container-level hardening shared by every Vigil container. */}}
{{- define "vigil.containerCommon" -}}
image: {{ include "vigil.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end -}}

{{- define "vigil.probeTiming" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end -}}

{{/*
The HTTP /healthz probes: dict "root" $ "port" "metrics"
*/}}
{{- define "vigil.httpProbes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- include "vigil.probeTiming" .root.Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- include "vigil.probeTiming" .root.Values.probes.readiness | nindent 2 }}
{{- end -}}

{{/*
HorizontalPodAutoscaler: dict "root" $ "component" "writer" "v" .Values.writer
*/}}
{{- define "vigil.hpa" -}}
{{- if .v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "vigil.componentName" (dict "root" .root "component" .component) }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "vigil.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "vigil.componentName" (dict "root" .root "component" .component) }}
  minReplicas: {{ .v.autoscaling.minReplicas }}
  maxReplicas: {{ .v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .v.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      # A consumer group rebalances on every change: scale down slowly.
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 120
{{- end }}
{{- end -}}

{{/*
PodDisruptionBudget: dict "root" $ "component" "writer" "v" .Values.writer
*/}}
{{- define "vigil.pdb" -}}
{{- if .v.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "vigil.componentName" (dict "root" .root "component" .component) }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "vigil.labels" . | nindent 4 }}
spec:
  {{- if hasKey .v.pdb "maxUnavailable" }}
  maxUnavailable: {{ .v.pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ .v.pdb.minAvailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "vigil.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
A ClusterIP Service for a component's metrics port:
dict "root" $ "component" "writer" "port" 8072
*/}}
{{- define "vigil.metricsService" -}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "vigil.componentName" (dict "root" .root "component" .component "suffix" "metrics") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "vigil.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "vigil.selectorLabels" . | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .port }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{/* Spread over nodes by default, or the configured constraints. */}}
{{- define "vigil.spread" -}}
topologySpreadConstraints:
{{- if .v.topologySpreadConstraints }}
  {{- toYaml .v.topologySpreadConstraints | nindent 2 }}
{{- else }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "vigil.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/omnirank/omnirank/topology"
)

// serveFlags are the flags `omnirank serve` defines, read from its source.
func serveFlags(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "cmd", "omnirank", "serve.go"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`fs\.\w+\((?:&[\w.]+,\s*)?"([a-z0-9-]+)"`)
	var flags []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) < 5 {
		t.Fatalf("found only %d flags in cmd/omnirank/serve.go: %q", len(flags), flags)
	}
	return flags
}

// Role names, as in package server (read from its source rather than
// imported, so that these checks build without the whole server).
const (
	roleIngest  = "ingest"
	roleExtract = "extract"
	roleFusion  = "fusion"
	roleRanker  = "ranker"
)

// knownRoles are the roles server/config.go accepts: its Role constants
// and extract:<modality> for the modalities in its knownRoles list.
func knownRoles(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "server", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range regexp.MustCompile(`(?m)^\s*Role\w+\s*=\s*"([a-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		roles = append(roles, m[1])
	}
	for _, m := range regexp.MustCompile(`RoleExtract\s*\+\s*":([a-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		roles = append(roles, roleExtract+":"+m[1])
	}
	for _, r := range []string{roleIngest, roleExtract, roleFusion, roleRanker} {
		if !slices.Contains(roles, r) {
			t.Fatalf("server/config.go does not declare role %q (found %q)", r, roles)
		}
	}
	return roles
}

// parseRoles splits a --roles value and checks every name.
func parseRoles(t *testing.T, where, value string) []string {
	t.Helper()
	known := knownRoles(t)
	var out []string
	for r := range strings.SplitSeq(value, ",") {
		if !slices.Contains(known, r) {
			t.Errorf("%s: unknown role %q (server knows %q)", where, r, known)
			continue
		}
		out = append(out, r)
	}
	return out
}

// checkServeArgs checks an `omnirank serve ...` argument list: known flags
// only, the roles parse, and the external stores are given.
func checkServeArgs(t *testing.T, where string, args []string, flags []string) (roles []string, values map[string]string) {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Errorf("%s: args %q do not start with serve", where, args)
		return nil, nil
	}
	values = map[string]string{}
	for _, a := range args[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			t.Errorf("%s: argument %q is not --flag=value", where, a)
			continue
		}
		if !slices.Contains(flags, name) {
			t.Errorf("%s: omnirank serve has no flag --%s", where, name)
		}
		values[name] = value
	}
	roles = parseRoles(t, where, values["roles"])
	checkSecureArgs(t, where, values)
	for _, need := range []string{"nats-url", "s3-endpoint", "s3-access-key", "s3-bucket", "http-addr"} {
		if values[need] == "" {
			t.Errorf("%s: --%s not set", where, need)
		}
	}
	if !strings.HasSuffix(values["http-addr"], ":8080") || strings.HasPrefix(values["http-addr"], "127.") {
		t.Errorf("%s: --http-addr=%q, want all interfaces on :8080", where, values["http-addr"])
	}
	return roles, values
}

// checkSecureArgs: a role that listens beyond loopback serves TLS and
// checks tokens (what `serve` demands without --insecure, which deploy/
// never uses), and the S3 secret is not on the command line (serve reads
// OMNIRANK_S3_SECRET_KEY from the environment).
func checkSecureArgs(t *testing.T, where string, values map[string]string) {
	t.Helper()
	if _, ok := values["insecure"]; ok {
		t.Errorf("%s: --insecure", where)
	}
	if _, ok := values["s3-secret-key"]; ok {
		t.Errorf("%s: the S3 secret key is on the command line; give it as OMNIRANK_S3_SECRET_KEY", where)
	}
	for _, need := range []string{"tls-cert", "tls-key", "auth-tokens"} {
		if values[need] == "" {
			t.Errorf("%s: listens on %q without --%s", where, values["http-addr"], need)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     any               `yaml:"command"`
		Entrypoint  any               `yaml:"entrypoint"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Profiles    []string          `yaml:"profiles"`
	} `yaml:"services"`
}

func TestCompose(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	flags := serveFlags(t)
	covered := map[string]bool{}
	var roleServices []string
	// secrets-init makes the certificate, key and token file the roles name.
	initScript := fmt.Sprint(c.Services["secrets-init"].Command)
	for _, want := range []string{"omnirank certs create --dir /secrets", "--file /secrets/tokens", "--secret-out /secrets/prometheus-token"} {
		if !strings.Contains(initScript, want) {
			t.Errorf("secrets-init does not run %q", want)
		}
	}
	for name, s := range c.Services {
		if s.Image != "omnirank:dev" || s.Entrypoint != nil {
			continue
		}
		args, ok := s.Command.([]any)
		if !ok {
			t.Errorf("service %s: command is %T, want a list", name, s.Command)
			continue
		}
		var strs []string
		for _, a := range args {
			str, ok := a.(string)
			if !ok {
				t.Errorf("service %s: command item %v is %T, want a string", name, a, a)
			}
			strs = append(strs, str)
		}
		roles, values := checkServeArgs(t, "service "+name, strs, flags)
		for _, r := range roles {
			covered[r] = true
		}
		if values["nats-url"] != "nats://nats:4222" || values["s3-endpoint"] != "minio:9000" {
			t.Errorf("service %s: nats %q, s3 %q", name, values["nats-url"], values["s3-endpoint"])
		}
		if s.Environment["OMNIRANK_S3_SECRET_KEY"] == "" {
			t.Errorf("service %s: no OMNIRANK_S3_SECRET_KEY", name)
		}
		if !slices.Contains(s.Volumes, "omnirank-secrets:/secrets:ro") {
			t.Errorf("service %s: volumes %q lack omnirank-secrets:/secrets:ro", name, s.Volumes)
		}
		for _, f := range []string{"tls-cert", "tls-key", "auth-tokens"} {
			if v := values[f]; !slices.Contains([]string{"/secrets/server.pem", "/secrets/server-key.pem", "/secrets/tokens"}, v) {
				t.Errorf("service %s: --%s=%s is not a file secrets-init makes", name, f, v)
			}
		}
		roleServices = append(roleServices, name)
	}
	for _, r := range []string{roleIngest, roleExtract, roleFusion, roleRanker} {
		if !covered[r] {
			t.Errorf("no compose service runs role %s", r)
		}
	}
	minio := c.Services["minio"].Environment
	if got := minio["MINIO_NOTIFY_NATS_SUBJECT_OMNIRANK"]; got != topology.S3EventsSubject {
		t.Errorf("MinIO publishes to %q, ingest reads %q", got, topology.S3EventsSubject)
	}
	if minio["MINIO_NOTIFY_NATS_ENABLE_OMNIRANK"] != "on" || minio["MINIO_NOTIFY_NATS_ADDRESS_OMNIRANK"] != "nats:4222" {
		t.Errorf("MinIO NATS target not enabled at nats:4222: %v", minio)
	}

	// Prometheus scrapes exactly the role services, over TLS with a token.
	prom := readPrometheus(t, filepath.Join("prometheus", "prometheus.yml"))
	var names []string
	for _, job := range prom.ScrapeConfigs {
		if job.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %q", job.JobName, job.MetricsPath)
		}
		checkPromSecure(t, job.JobName, job.Scheme, job.TLSConfig.CAFile, job.Authorization.CredentialsFile)
		for _, sd := range job.DNSSDConfigs {
			if sd.Port != 8080 {
				t.Errorf("job %s scrapes port %d", job.JobName, sd.Port)
			}
			names = append(names, sd.Names...)
		}
	}
	slices.Sort(names)
	slices.Sort(roleServices)
	if !slices.Equal(names, roleServices) {
		t.Errorf("prometheus scrapes %q, compose role services are %q", names, roleServices)
	}
}

func checkPromSecure(t *testing.T, job, scheme, caFile, credentials string) {
	t.Helper()
	if scheme != "https" || caFile == "" || credentials == "" {
		t.Errorf("job %s: scheme %q, CA %q, token file %q; want https with a CA and a token", job, scheme, caFile, credentials)
	}
}

type promConfig struct {
	ScrapeConfigs []struct {
		JobName     string `yaml:"job_name"`
		MetricsPath string `yaml:"metrics_path"`
		Scheme      string `yaml:"scheme"`
		TLSConfig   struct {
			CAFile string `yaml:"ca_file"`
		} `yaml:"tls_config"`
		Authorization struct {
			CredentialsFile string `yaml:"credentials_file"`
		} `yaml:"authorization"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
		KubernetesSDConfigs []struct {
			Role string `yaml:"role"`
		} `yaml:"kubernetes_sd_configs"`
		RelabelConfigs []struct {
			SourceLabels []string `yaml:"source_labels"`
			Regex        string   `yaml:"regex"`
			Action       string   `yaml:"action"`
		} `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

func readPrometheus(t *testing.T, file string) promConfig {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p promConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(p.ScrapeConfigs) == 0 {
		t.Fatalf("%s has no scrape configs", file)
	}
	return p
}

// k8sObject is the part of a Kubernetes object the checks read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		// Deployment
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name      string `yaml:"name"`
						ValueFrom struct {
							SecretKeyRef struct {
								Name string `yaml:"name"`
							} `yaml:"secretKeyRef"`
						} `yaml:"valueFrom"`
					} `yaml:"env"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
					ReadinessProbe struct {
						HTTPGet struct {
							Scheme string `yaml:"scheme"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
				} `yaml:"containers"`
				Volumes []struct {
					Name   string `yaml:"name"`
					Secret struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service (its selector is a plain map, read separately)
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		// ScaledObject
		ScaleTargetRef struct {
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		Triggers []struct {
			Type     string            `yaml:"type"`
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"triggers"`
	} `yaml:"spec"`
	serviceSelector map[string]string
}

// readK8s reads every document of the files kustomization.yaml lists.
func readK8s(t *testing.T) []k8sObject {
	t.Helper()
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	data, err := os.ReadFile(filepath.Join("k8s", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml", f)
		}
	}
	var objs []k8sObject
	for _, r := range kust.Resources {
		data, err := os.ReadFile(filepath.Join("k8s", r))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var node yaml.Node
			err := dec.Decode(&node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			var o k8sObject
			if err := node.Decode(&o); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			if o.Kind == "Service" {
				var svc struct {
					Spec struct {
						Selector map[string]string `yaml:"selector"`
					} `yaml:"spec"`
				}
				if err := node.Decode(&svc); err != nil {
					t.Fatalf("%s: %v", r, err)
				}
				o.serviceSelector = svc.Spec.Selector
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: object without apiVersion, kind or name: %+v", r, o.Metadata)
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != "omnirank" {
				t.Errorf("%s: %s/%s in namespace %q", r, o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes(t *testing.T) {
	objs := readK8s(t)
	flags := serveFlags(t)
	deployments := map[string]k8sObject{}
	roles := map[string]string{} // deployment → its one role
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		deployments[o.Metadata.Name] = o
		if !subset(o.Spec.Selector.MatchLabels, o.Spec.Template.Metadata.Labels) {
			t.Errorf("deployment %s: selector %v does not match its pod labels %v", o.Metadata.Name, o.Spec.Selector.MatchLabels, o.Spec.Template.Metadata.Labels)
		}
		if o.Spec.Template.Metadata.Labels["app.kubernetes.io/part-of"] != "omnirank" {
			t.Errorf("deployment %s: pods lack app.kubernetes.io/part-of=omnirank (Prometheus discovery)", o.Metadata.Name)
		}
		if len(o.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("deployment %s: %d containers", o.Metadata.Name, len(o.Spec.Template.Spec.Containers))
		}
		c := o.Spec.Template.Spec.Containers[0]
		rs, values := checkServeArgs(t, "deployment "+o.Metadata.Name, c.Args, flags)
		if len(rs) != 1 {
			t.Errorf("deployment %s runs roles %q, want exactly one", o.Metadata.Name, rs)
		} else {
			roles[o.Metadata.Name] = rs[0]
		}
		checkK8sSecrets(t, o, c.Args)
		if values["nats-replicas"] != "3" {
			t.Errorf("deployment %s: --nats-replicas=%q, want 3 (a NATS cluster)", o.Metadata.Name, values["nats-replicas"])
		}
		var http bool
		for _, p := range c.Ports {
			http = http || (p.Name == "http" && p.ContainerPort == 8080)
		}
		if !http {
			t.Errorf("deployment %s: no container port http=8080 for /metrics", o.Metadata.Name)
		}
	}
	for _, r := range []string{roleIngest, roleFusion, roleRanker} {
		if !slices.Contains(mapValues(roles), r) {
			t.Errorf("no deployment runs role %s", r)
		}
	}

	// The ranker Service selects ranker pods and serves gRPC 50051 and HTTP 8080.
	var rankerService bool
	for _, o := range objs {
		if o.Kind != "Service" {
			continue
		}
		var selected []string
		for name, d := range deployments {
			if subset(o.serviceSelector, d.Spec.Template.Metadata.Labels) {
				selected = append(selected, name)
			}
		}
		if len(selected) != 1 || roles[selected[0]] != roleRanker {
			t.Errorf("service %s selects %q, want the ranker deployment", o.Metadata.Name, selected)
			continue
		}
		ports := map[string]int{}
		for _, p := range o.Spec.Ports {
			ports[p.TargetPort] = p.Port
		}
		if ports["grpc"] != 50051 || ports["http"] != 8080 {
			t.Errorf("service %s ports %v, want grpc 50051 and http 8080", o.Metadata.Name, ports)
		}
		rankerService = true
	}
	if !rankerService {
		t.Error("no ranker Service")
	}

	// One ScaledObject per extract deployment; its triggers are the JOBS
	// consumers topology declares for the deployment's modality.
	scaled := map[string]bool{}
	for _, o := range objs {
		if o.Kind != "ScaledObject" {
			continue
		}
		target := o.Spec.ScaleTargetRef.Name
		role, ok := roles[target]
		if !ok {
			t.Errorf("scaledobject %s targets unknown deployment %q", o.Metadata.Name, target)
			continue
		}
		modality, ok := strings.CutPrefix(role, roleExtract+":")
		if !ok {
			t.Errorf("scaledobject %s scales %s (role %s), not an extract worker", o.Metadata.Name, target, role)
			continue
		}
		scaled[target] = true
		declared := topology.Consumers(topology.DefaultOptions(), []string{modality})
		var want, got []string
		for _, l := range []topology.Lane{topology.LaneLive, topology.LaneBackfill} {
			name := topology.ExtractConsumer(modality, l)
			if _, ok := declared[topology.StreamJobs+"/"+name]; !ok {
				t.Fatalf("topology does not declare %s/%s", topology.StreamJobs, name)
			}
			want = append(want, topology.StreamJobs+"/"+name)
		}
		for _, tr := range o.Spec.Triggers {
			if tr.Type != "nats-jetstream" {
				t.Errorf("scaledobject %s: trigger type %q", o.Metadata.Name, tr.Type)
			}
			for _, k := range []string{"natsServerMonitoringEndpoint", "account", "lagThreshold"} {
				if tr.Metadata[k] == "" {
					t.Errorf("scaledobject %s: trigger lacks %s", o.Metadata.Name, k)
				}
			}
			got = append(got, tr.Metadata["stream"]+"/"+tr.Metadata["consumer"])
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("scaledobject %s watches %q, want %q", o.Metadata.Name, got, want)
		}
	}
	for name, role := range roles {
		if strings.HasPrefix(role, roleExtract) && !scaled[name] {
			t.Errorf("extract deployment %s has no ScaledObject", name)
		}
	}

	// Prometheus in the cluster keeps exactly what the pods are labelled with.
	prom := readPrometheus(t, filepath.Join("prometheus", "kubernetes.yml"))
	var keepsPartOf bool
	for _, job := range prom.ScrapeConfigs {
		checkPromSecure(t, job.JobName, job.Scheme, job.TLSConfig.CAFile, job.Authorization.CredentialsFile)
		for _, rc := range job.RelabelConfigs {
			if rc.Action == "keep" && slices.Contains(rc.SourceLabels, "__meta_kubernetes_pod_label_app_kubernetes_io_part_of") && rc.Regex == "omnirank" {
				keepsPartOf = true
			}
		}
	}
	if !keepsPartOf {
		t.Error("prometheus/kubernetes.yml does not select pods by app.kubernetes.io/part-of=omnirank")
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	script, err := os.ReadFile(filepath.Join("..", "scripts", "fetch-onnxruntime.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ORT_VERSION=(\S+)`).FindSubmatch(script)
	if m == nil {
		t.Fatal("no ORT_VERSION in scripts/fetch-onnxruntime.sh")
	}
	if want := "/ort/onnxruntime-" + string(m[1]) + "/libonnxruntime.so.1"; !strings.Contains(df, want) {
		t.Errorf("Dockerfile does not copy %s (the script's ORT_VERSION)", want)
	}
	env := regexp.MustCompile(`(?m)^ENV ONNXRUNTIME_LIB=(\S+)`).FindStringSubmatch(df)
	if env == nil || !strings.Contains(df, "COPY --from=onnxruntime /libonnxruntime.so.1 "+env[1]) {
		t.Errorf("ONNXRUNTIME_LIB does not point where the library is copied")
	}
	for _, want := range []string{"CGO_ENABLED=1", "./cmd/omnirank", "EXPOSE 50051 8080", `ENTRYPOINT ["omnirank"]`, "libpocketsphinx-dev", "libpocketsphinx3 pocketsphinx-en-us"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// checkK8sSecrets: the S3 secret comes from the omnirank-s3 Secret through
// the environment; the TLS certificate, key and token file the args name
// lie in mounted Secret volumes; the probes speak HTTPS.
func checkK8sSecrets(t *testing.T, o k8sObject, args []string) {
	t.Helper()
	where := "deployment " + o.Metadata.Name
	c := o.Spec.Template.Spec.Containers[0]
	var s3 bool
	for _, e := range c.Env {
		s3 = s3 || (e.Name == "OMNIRANK_S3_SECRET_KEY" && e.ValueFrom.SecretKeyRef.Name == "omnirank-s3")
	}
	if !s3 {
		t.Errorf("%s: OMNIRANK_S3_SECRET_KEY does not come from Secret omnirank-s3", where)
	}
	secretVolumes := map[string]string{} // volume → Secret
	for _, v := range o.Spec.Template.Spec.Volumes {
		if v.Secret.SecretName != "" {
			secretVolumes[v.Name] = v.Secret.SecretName
		}
	}
	mounted := map[string]string{} // mount path → Secret
	for _, m := range c.VolumeMounts {
		if s, ok := secretVolumes[m.Name]; ok {
			mounted[m.MountPath] = s
		}
	}
	for _, a := range args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !slices.Contains([]string{"tls-cert", "tls-key", "auth-tokens"}, name) {
			continue
		}
		if _, ok := mounted[filepath.Dir(value)]; !ok {
			t.Errorf("%s: --%s=%s is not in a mounted Secret (mounted: %v)", where, name, value, mounted)
		}
	}
	if c.ReadinessProbe.HTTPGet.Scheme != "HTTPS" {
		t.Errorf("%s: readiness probe scheme %q, want HTTPS", where, c.ReadinessProbe.HTTPGet.Scheme)
	}
}

package bundle

import (
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// clusterScoped lists the built-in resources that exist only at cluster
// scope, as group/resource. A rule on them cannot be granted by a Role, so
// it goes into clusterPermissions; so do nonResourceURLs and wildcards.
var clusterScoped = toSet(
	"/namespaces", "/nodes", "/persistentvolumes", "/componentstatuses",
	"authentication.k8s.io/tokenreviews", "authentication.k8s.io/selfsubjectreviews",
	"authorization.k8s.io/subjectaccessreviews", "authorization.k8s.io/selfsubjectaccessreviews",
	"authorization.k8s.io/selfsubjectrulesreviews",
	"apiextensions.k8s.io/customresourcedefinitions",
	"apiregistration.k8s.io/apiservices",
	"admissionregistration.k8s.io/mutatingwebhookconfigurations",
	"admissionregistration.k8s.io/validatingwebhookconfigurations",
	"admissionregistration.k8s.io/validatingadmissionpolicies",
	"admissionregistration.k8s.io/validatingadmissionpolicybindings",
	"admissionregistration.k8s.io/mutatingadmissionpolicies",
	"admissionregistration.k8s.io/mutatingadmissionpolicybindings",
	"certificates.k8s.io/certificatesigningrequests", "certificates.k8s.io/clustertrustbundles",
	"rbac.authorization.k8s.io/clusterroles", "rbac.authorization.k8s.io/clusterrolebindings",
	"storage.k8s.io/storageclasses", "storage.k8s.io/volumeattachments",
	"storage.k8s.io/csidrivers", "storage.k8s.io/csinodes",
	"scheduling.k8s.io/priorityclasses",
	"node.k8s.io/runtimeclasses",
	"networking.k8s.io/ingressclasses", "networking.k8s.io/ipaddresses", "networking.k8s.io/servicecidrs",
	"flowcontrol.apiserver.k8s.io/flowschemas", "flowcontrol.apiserver.k8s.io/prioritylevelconfigurations",
	"resource.k8s.io/deviceclasses", "resource.k8s.io/resourceslices",
)

func toSet(items ...string) map[string]bool {
	set := make(map[string]bool, len(items))
	for _, it := range items {
		set[it] = true
	}
	return set
}

// permissionsResult is the RBAC part of the install strategy plus the RBAC
// objects the bundle ships as they are.
type permissionsResult struct {
	permissions        []v1alpha1.StrategyDeploymentPermissions
	clusterPermissions []v1alpha1.StrategyDeploymentPermissions
	// extras are roles bound to no deployment's service account (granted
	// by cluster admins to users), bindings of other subjects, and service
	// accounts no deployment runs as.
	extras []source
}

// sortPermissions turns the roles bound to the deployments' service accounts
// into the CSV's permissions and clusterPermissions, as OLM expects them:
//
//   - permissions are granted in every namespace the operator watches (OLM
//     creates Roles there, or ClusterRoles for AllNamespaces), so they get
//     the rules of Roles and the namespaced rules of ClusterRoles: the
//     operator needs its ClusterRole (memcacheds, deployments, pods, events)
//     only in the namespaces it watches;
//   - clusterPermissions get the rules that only make sense cluster-wide:
//     cluster-scoped resources (tokenreviews, subjectaccessreviews, ...),
//     cluster-scoped CRDs, nonResourceURLs and wildcards.
//
// The bindings and service accounts are left out: OLM creates them.
func sortPermissions(in *inputs, clusterCRDs map[string]bool) (permissionsResult, problem.List) {
	var res permissionsResult
	var ps problem.List
	accounts := map[string]bool{}
	for _, d := range in.deployments {
		sa, _, _ := unstructured.NestedString(d.obj.Object, "spec", "template", "spec", "serviceAccountName")
		if sa == "" {
			ps.Errorf(checkGenerate, d.file, "spec.template.spec.serviceAccountName", "Deployment %s runs as the default service account: name one, so that OLM can grant it the bundle's permissions", d.obj.GetName())
			continue
		}
		accounts[sa] = true
	}
	grants, used, extras, more := bindGrants(in, accounts)
	ps.Add(more...)
	res.extras = extras
	for _, sa := range slices.Sorted(maps.Keys(accounts)) {
		nsRules, clusterRules, more := rulesOf(grants[sa], clusterCRDs)
		ps.Add(more...)
		if rules := dedupRules(nsRules); len(rules) > 0 {
			res.permissions = append(res.permissions, v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: rules})
		}
		if rules := dedupRules(clusterRules); len(rules) > 0 {
			res.clusterPermissions = append(res.clusterPermissions, v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: rules})
		}
	}
	for _, r := range append(append([]source{}, in.roles...), in.clusterRoles...) {
		if !used[r.obj.GetKind()+"/"+r.obj.GetName()] {
			res.extras = append(res.extras, r)
		}
	}
	for _, sa := range in.serviceAccounts {
		if !accounts[sa.obj.GetName()] {
			res.extras = append(res.extras, sa)
		}
	}
	return res, ps
}

// grant is a role bound to one of the operator's service accounts.
type grant struct {
	role    source
	cluster bool // through a ClusterRoleBinding
}

// bindGrants follows the bindings of the operator's service accounts to
// their roles: the grants by service account, the roles used, and the
// bindings of other subjects, which the bundle ships as they are.
func bindGrants(in *inputs, accounts map[string]bool) (map[string][]grant, map[string]bool, []source, problem.List) {
	var ps problem.List
	var extras []source
	roles := map[string]source{}
	for _, r := range in.roles {
		roles["Role/"+r.obj.GetName()] = r
	}
	for _, r := range in.clusterRoles {
		roles["ClusterRole/"+r.obj.GetName()] = r
	}
	grants := map[string][]grant{}
	used := map[string]bool{}
	for _, b := range append(append([]source{}, in.roleBindings...), in.clusterRoleBindings...) {
		var binding struct {
			Subjects []rbacv1.Subject `json:"subjects"`
			RoleRef  rbacv1.RoleRef   `json:"roleRef"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(b.obj.Object, &binding); err != nil {
			ps.Errorf(checkGenerate, b.file, "", "%s: %v", b.describe(), err)
			continue
		}
		var mine, others []rbacv1.Subject
		for _, s := range binding.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && accounts[s.Name] {
				mine = append(mine, s)
			} else {
				others = append(others, s)
			}
		}
		if len(mine) == 0 {
			extras = append(extras, b)
			continue
		}
		if len(others) > 0 {
			ps.Errorf(checkGenerate, b.file, "subjects", "%s binds the operator's service account and other subjects: split it, OLM creates the operator's bindings itself", b.describe())
		}
		key := binding.RoleRef.Kind + "/" + binding.RoleRef.Name
		role, ok := roles[key]
		if !ok {
			ps.Errorf(checkGenerate, b.file, "roleRef", "%s refers to %s, which config/manifests does not define", b.describe(), key)
			continue
		}
		used[key] = true
		for _, s := range mine {
			grants[s.Name] = append(grants[s.Name], grant{role: role, cluster: b.obj.GetKind() == "ClusterRoleBinding"})
		}
	}
	return grants, used, extras, ps
}

// rulesOf sorts the rules of a service account's grants into namespaced
// and cluster-wide ones.
func rulesOf(gs []grant, clusterCRDs map[string]bool) (nsRules, clusterRules []rbacv1.PolicyRule, ps problem.List) {
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i].role.obj, gs[j].role.obj
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		return a.GetName() < b.GetName()
	})
	for _, g := range gs {
		var role struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(g.role.obj.Object, &role); err != nil {
			ps.Errorf(checkGenerate, g.role.file, "rules", "%s: %v", g.role.describe(), err)
			continue
		}
		for _, rule := range role.Rules {
			if !g.cluster {
				// A RoleBinding grants even a ClusterRole's rules in one
				// namespace only.
				nsRules = append(nsRules, rule)
				continue
			}
			ns, cl := splitRule(rule, clusterCRDs)
			if ns != nil {
				nsRules = append(nsRules, *ns)
			}
			if cl != nil {
				clusterRules = append(clusterRules, *cl)
			}
		}
	}
	return nsRules, clusterRules, ps
}

// splitRule divides a ClusterRole rule into the part that is namespaced and
// the part that must be granted cluster-wide. Either may be nil.
func splitRule(rule rbacv1.PolicyRule, clusterCRDs map[string]bool) (ns, cluster *rbacv1.PolicyRule) {
	if len(rule.NonResourceURLs) > 0 {
		return nil, &rule
	}
	isCluster := func(group, resource string) bool {
		if group == "*" || resource == "*" {
			return true
		}
		resource, _, _ = strings.Cut(resource, "/")
		key := group + "/" + resource
		return clusterScoped[key] || clusterCRDs[key]
	}
	var nsRes, clRes []string
	mixedGroups := false
	for _, res := range rule.Resources {
		c := 0
		for _, g := range rule.APIGroups {
			if isCluster(g, res) {
				c++
			}
		}
		switch {
		case c == 0:
			nsRes = append(nsRes, res)
		case c == len(rule.APIGroups):
			clRes = append(clRes, res)
		default:
			mixedGroups = true
		}
	}
	if mixedGroups {
		// Rare: grant the whole rule cluster-wide rather than guess.
		return nil, &rule
	}
	if len(clRes) == 0 {
		return &rule, nil
	}
	if len(nsRes) == 0 {
		return nil, &rule
	}
	n, c := rule, rule
	n.Resources, c.Resources = nsRes, clRes
	return &n, &c
}

// dedupRules drops rules equal to an earlier one (e.g. events granted by
// both the manager's role and the leader election role).
func dedupRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		dup := false
		for _, o := range out {
			if reflect.DeepEqual(r, o) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, r)
		}
	}
	return out
}

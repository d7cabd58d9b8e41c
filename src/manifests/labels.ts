/** Labels on every rendered object, so `kubectl get all -l app.kubernetes.io/part-of=vipgate` finds them. */
export function commonLabels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'vipgate',
    'app.kubernetes.io/part-of': 'vipgate',
    'app.kubernetes.io/component': component,
  };
}

/** The stable subset used in selectors (a Deployment's selector is immutable: keep it small). */
export function selectorLabels(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'vipgate', 'app.kubernetes.io/component': component };
}

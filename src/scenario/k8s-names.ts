/** Kubernetes name and label syntax (apimachinery validation), so scenarios also apply on kind/cluster backends. */
export const k8sNames = {
  dns1123Label: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
  dns1123Subdomain: /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  labelName: /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,

  labelDescription: 'a DNS-1123 label: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
  subdomainDescription: 'a DNS-1123 subdomain: at most 253 lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',

  /** Why `key` is not a valid label key, or undefined. */
  labelKeyProblem(key: string): string | undefined {
    const slash = key.indexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== undefined && !k8sNames.dns1123Subdomain.test(prefix)) {
      return `label key ${JSON.stringify(key)} has an invalid prefix; the prefix must be ${k8sNames.subdomainDescription}`;
    }
    if (!k8sNames.labelName.test(name)) {
      return `label key ${JSON.stringify(key)} is invalid; allowed: an optional DNS subdomain prefix and "/", then at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
    }
    return undefined;
  },

  /** Why `value` is not a valid label value, or undefined. */
  labelValueProblem(value: string): string | undefined {
    if (value === '' || k8sNames.labelName.test(value)) return undefined;
    return `label value ${JSON.stringify(value)} is invalid; allowed: empty, or at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  },
} as const;

import { InvalidArgumentError } from 'commander';

/**
 * Parser for a flag whose value reaches another program's argv (kubectl, kind, istioctl, docker): a value starting
 * with `-` would be read there as an option (`--context "--kubeconfig=/x"`), so it is refused; so are control
 * characters and an empty value. Usage error, exit 2.
 */
export function argvValue(name: string) {
  return (value: string): string => {
    if (value === '') throw new InvalidArgumentError(`${name} must not be empty`);
    if (value.startsWith('-')) throw new InvalidArgumentError(`${name} must not start with "-" (it would be read as an option by the tools it is passed to)`);
    if (/[\x00-\x1f\x7f]/.test(value)) throw new InvalidArgumentError(`${name} must not contain control characters`);
    return value;
  };
}

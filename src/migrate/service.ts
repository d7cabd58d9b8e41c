/**
 * The few fields of a core/v1 Service the migration reads. Structural, so it accepts what
 * `kubectl get -o yaml` prints and the client library's V1Service alike, without importing it
 * (only src/kube may).
 */
export interface MigratableService {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly type?: string;
    readonly clusterIP?: string;
    readonly externalIPs?: readonly string[];
    readonly ipFamilies?: readonly string[];
    readonly ipFamilyPolicy?: string;
  };
}

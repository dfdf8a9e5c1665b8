/** The roles of an operator: `support` reads everything and changes nothing; `admin` may also change. */
export const OPERATOR_ROLES = ['support', 'admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** An operator of the service (not a member of any account), from an operator token. */
export interface OperatorPrincipal {
  readonly kind: 'operator';
  /** Who the operator is (free text chosen when the token was minted, e.g. an e-mail address). */
  readonly operatorId: string;
  readonly role: OperatorRole;
}

export const isOperatorRole = (value: unknown): value is OperatorRole =>
  typeof value === 'string' && (OPERATOR_ROLES as readonly string[]).includes(value);

/** True when `role` may do what `needed` allows (`admin` may do everything `support` may). */
export const roleAllows = (role: OperatorRole, needed: OperatorRole): boolean =>
  needed === 'support' || role === 'admin';

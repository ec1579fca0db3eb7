import type { CardBrand, DeclineCode } from './card';
import type { Currency } from './validation';

/** A stored payment. Holds no PAN and no CVC: only brand, last four digits and the HMAC token. */
export interface Payment {
  readonly id: string;
  readonly status: 'approved' | 'declined';
  readonly declineCode?: DeclineCode;
  readonly amount: number;
  readonly currency: Currency;
  readonly card: { readonly brand: CardBrand; readonly last4: string; readonly token: string };
  readonly description?: string;
  readonly createdAt: string;
}

/** Where payments live. A real implementation (e.g. PostgreSQL) replaces the in-memory one behind this interface. */
export interface PaymentRepository {
  /** Stores a new payment; rejects if the id already exists. */
  insert(payment: Payment): Promise<void>;
  findById(id: string): Promise<Payment | undefined>;
  /** Removes a payment; used only to undo an insert whose surrounding create failed. */
  delete(id: string): Promise<void>;
}

/**
 * In-process, non-durable storage: everything is lost on restart and nothing is shared between tasks.
 * For the reference service and tests only; do not run more than one task against it and expect shared state.
 */
export class InMemoryPaymentRepository implements PaymentRepository {
  private readonly payments = new Map<string, Payment>();

  async insert(payment: Payment): Promise<void> {
    if (this.payments.has(payment.id)) throw new Error('payment id already exists');
    // Frozen copy: callers cannot change the stored record afterwards.
    this.payments.set(payment.id, Object.freeze({ ...payment, card: Object.freeze({ ...payment.card }) }));
  }

  async findById(id: string): Promise<Payment | undefined> {
    return this.payments.get(id);
  }

  async delete(id: string): Promise<void> {
    this.payments.delete(id);
  }

  /** Number of stored payments (tests and diagnostics). */
  get size(): number {
    return this.payments.size;
  }
}

import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Usage per account, UTC day, product and item (model or GPU type). */
@Entity({ name: 'billing_usage_daily' })
export class UsageDailyRow {
  @PrimaryColumn('text', { name: 'account_id' }) accountId!: string;
  @PrimaryColumn('date') day!: string;
  @PrimaryColumn('text') product!: string;
  @PrimaryColumn('text') item!: string;
  @Column('integer') requests!: number;
  @Column('numeric', { name: 'prompt_tokens', precision: 40, scale: 0 }) promptTokens!: string;
  @Column('numeric', { name: 'completion_tokens', precision: 40, scale: 0 }) completionTokens!: string;
  @Column('numeric', { name: 'gpu_seconds', precision: 40, scale: 0 }) gpuSeconds!: string;
  @Column('numeric', { precision: 40, scale: 0 }) amount!: string;
}

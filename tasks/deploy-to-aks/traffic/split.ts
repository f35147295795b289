/** One backend of a traffic split, for the log and the summary table. */
export interface SplitRow {
  backend: string;
  pods: number;
  /** HTTPRoute weight, when the gateway splits. */
  weight?: number;
  /** Expected share of requests, 0–1. */
  share: number;
}

export interface TrafficSplitReport {
  method: 'replicas' | 'gatewayApi' | 'service';
  /** The split in words, e.g. "the canary gets 1 of 6 pods of Service web (17 %)". */
  words: string;
  rows: SplitRow[];
}

export const percent = (share: number) => `${Math.round(share * 1000) / 10} %`;

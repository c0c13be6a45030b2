/** The model card's GPTQ branches of CodeLlama-70B-Instruct-GPTQ (all act-order). */

export interface Branch {
  name: string;
  bits: 3 | 4;
  /** Quantization group size; undefined for a single group (-1). */
  groupSize: number | undefined;
  sizeGB: number;
}

export const BRANCHES: readonly Branch[] = [
  { name: "main", bits: 4, groupSize: undefined, sizeGB: 35.3 },
  { name: "gptq-4bit-128g-actorder_True", bits: 4, groupSize: 128, sizeGB: 36.7 },
  { name: "gptq-4bit-32g-actorder_True", bits: 4, groupSize: 32, sizeGB: 40.7 },
  { name: "gptq-3bit--1g-actorder_True", bits: 3, groupSize: undefined, sizeGB: 26.8 },
  { name: "gptq-3bit-128g-actorder_True", bits: 3, groupSize: 128, sizeGB: 28.0 },
  { name: "gptq-3bit-32g-actorder_True", bits: 3, groupSize: 32, sizeGB: 31.8 },
];

export interface BranchItem {
  label: string;
  description: string;
  picked: boolean;
  branch: string;
}

/** One quick-pick entry per branch; the configured one (null means `main`) is marked. */
export function branchItems(current: string | null | undefined): BranchItem[] {
  const selected = current === null || current === undefined || current.trim() === "" ? "main" : current.trim();
  return BRANCHES.map((b) => ({
    label: b.name === selected ? `$(check) ${b.name}` : b.name,
    description: `${b.bits}-bit, ${b.groupSize === undefined ? "no groups" : `group size ${b.groupSize}`}, ${b.sizeGB.toFixed(1)} GB`,
    picked: b.name === selected,
    branch: b.name,
  }));
}

/** Where a setting was given; the most specific scope is the one to change. */
export interface SettingScopes {
  workspaceFolderValue?: unknown;
  workspaceValue?: unknown;
}

export type SettingTarget = "workspaceFolder" | "workspace" | "global";

export function settingTarget(scopes: SettingScopes | undefined): SettingTarget {
  if (scopes?.workspaceFolderValue !== undefined) return "workspaceFolder";
  if (scopes?.workspaceValue !== undefined) return "workspace";
  return "global";
}

import { Text } from "ink";
import { Styled } from "../theme.tsx";

export const TAB_NAMES = ["Overview", "Queues", "Workers", "Failures", "Periodic", "Rate limits"] as const;

/** "1 Overview  2 Queues …" with the active tab highlighted, plus a breadcrumb of drill-downs. */
export function Tabs(props: { active: number; crumbs: readonly string[] }) {
  return (
    <Text wrap="truncate">
      {TAB_NAMES.map((name, i) => (
        <Styled key={name} tone={i === props.active ? "accent" : "muted"} bold={i === props.active} inverse={i === props.active}>
          {` ${i + 1} ${name} `}
        </Styled>
      ))}
      {props.crumbs.length > 0 ? <Styled tone="title">{`  › ${props.crumbs.join(" › ")}`}</Styled> : null}
    </Text>
  );
}

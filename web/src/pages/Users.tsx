import { get } from '../api';
import { useApp, href } from '../context';
import { useAsync } from '../hooks';
import { formatAgo, formatInt, formatMs, formatPercent } from '../format';
import type { UserProfile, UserSummary } from '../types';
import { PageHeader } from '../components/Layout';
import { Guard } from '../components/States';
import { ProfileBody, ProfileList, useProfileRange, type Column } from './Profile';

export function Users() {
  const { appId } = useApp();
  const columns: Column<UserSummary>[] = [
    { key: 'user_id', label: 'User', render: (u) => <a href={href('/users/' + encodeURIComponent(u.user_id), appId)}>{u.user_id}</a> },
    {
      key: 'company_id',
      label: 'Company',
      className: 'hide-narrow',
      render: (u) => (u.company_id ? <a href={href('/companies/' + encodeURIComponent(u.company_id), appId)}>{u.company_id}</a> : <span class="muted">–</span>),
    },
    { key: 'requests', label: 'Requests', num: true, render: (u) => formatInt(u.requests) },
    { key: 'error_rate', label: 'Errors', num: true, render: (u) => formatPercent(u.error_rate) },
    { key: 'latency_p95', label: 'p95', num: true, className: 'hide-narrow', render: (u) => formatMs(u.latency_p95) },
    { key: 'last_seen', label: 'Last seen', num: true, render: (u) => formatAgo(u.last_seen) },
  ];
  return (
    <>
      <PageHeader title="Users" />
      <ProfileList<UserSummary> path="/users" endpoint="/api/v1/users" itemsKey="users" columns={columns} defaultSort="last_seen" placeholder="Search users, companies, metadata…" rowKey={(u) => u.user_id} testid="page-users" />
    </>
  );
}

export function UserPage({ userId }: { userId: string }) {
  const { appId } = useApp();
  const { from, to, picker } = useProfileRange('/users/' + encodeURIComponent(userId));
  const res = useAsync((s) => get<UserProfile>('/api/v1/users/' + encodeURIComponent(userId), { app_id: appId, from, to }, s), [appId, userId, from, to]);
  return (
    <div data-testid="page-user">
      <PageHeader title={userId}>{picker}</PageHeader>
      <p class="crumbs">
        <a href={href('/users', appId)}>Users</a>
        {res.data?.user.company_id && (
          <>
            {' '}
            · company <a href={href('/companies/' + encodeURIComponent(res.data.user.company_id), appId)}>{res.data.user.company_id}</a>
          </>
        )}
      </p>
      <Guard {...res}>
        {(p) => (
          <ProfileBody
            totals={p.totals}
            series={p.series}
            routes={p.top_routes}
            recent={p.recent_events}
            metadata={p.user.metadata}
            errorParams={{ user_id: userId, ...(from ? { from } : {}), ...(to ? { to } : {}) }}
            first={p.user.first_seen}
            last={p.user.last_seen}
          />
        )}
      </Guard>
    </div>
  );
}

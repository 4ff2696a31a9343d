import { get } from '../api';
import { useApp, href } from '../context';
import { useAsync } from '../hooks';
import { formatAgo, formatInt, formatMs, formatPercent } from '../format';
import type { CompanyProfile, CompanySummary } from '../types';
import { PageHeader } from '../components/Layout';
import { Empty, Guard } from '../components/States';
import { ProfileBody, ProfileList, useProfileRange, type Column } from './Profile';

export function Companies() {
  const { appId } = useApp();
  const columns: Column<CompanySummary>[] = [
    { key: 'company_id', label: 'Company', render: (c) => <a href={href('/companies/' + encodeURIComponent(c.company_id), appId)}>{c.company_id}</a> },
    { key: 'users', label: 'Users', num: true, render: (c) => formatInt(c.users) },
    { key: 'requests', label: 'Requests', num: true, render: (c) => formatInt(c.requests) },
    { key: 'error_rate', label: 'Errors', num: true, render: (c) => formatPercent(c.error_rate) },
    { key: 'latency_p95', label: 'p95', num: true, className: 'hide-narrow', render: (c) => formatMs(c.latency_p95) },
    { key: 'last_seen', label: 'Last seen', num: true, render: (c) => formatAgo(c.last_seen) },
  ];
  return (
    <>
      <PageHeader title="Companies" />
      <ProfileList<CompanySummary>
        path="/companies"
        endpoint="/api/v1/companies"
        itemsKey="companies"
        columns={columns}
        defaultSort="last_seen"
        placeholder="Search companies, domains, metadata…"
        rowKey={(c) => c.company_id}
        testid="page-companies"
      />
    </>
  );
}

export function CompanyPage({ companyId }: { companyId: string }) {
  const { appId } = useApp();
  const { from, to, picker } = useProfileRange('/companies/' + encodeURIComponent(companyId));
  const res = useAsync((s) => get<CompanyProfile>('/api/v1/companies/' + encodeURIComponent(companyId), { app_id: appId, from, to }, s), [appId, companyId, from, to]);
  return (
    <div data-testid="page-company">
      <PageHeader title={companyId}>{picker}</PageHeader>
      <p class="crumbs">
        <a href={href('/companies', appId)}>Companies</a>
        {res.data?.company.domain && <> · {res.data.company.domain}</>}
      </p>
      <Guard {...res}>
        {(p) => (
          <ProfileBody
            totals={p.totals}
            series={p.series}
            routes={p.top_routes}
            recent={p.recent_events}
            metadata={p.company.metadata}
            errorParams={{ company_id: companyId, ...(from ? { from } : {}), ...(to ? { to } : {}) }}
            first={p.company.first_seen}
            last={p.company.last_seen}
          >
            <section class="card">
              <h2>Users ({formatInt(p.users.length)})</h2>
              {p.users.length === 0 ? (
                <Empty title="No users linked to this company" />
              ) : (
                <div class="table-wrap">
                  <table class="table" data-testid="company-users">
                    <thead>
                      <tr>
                        <th>User</th>
                        <th class="num">Requests</th>
                        <th class="num">Errors</th>
                        <th class="num">Last seen</th>
                      </tr>
                    </thead>
                    <tbody>
                      {p.users.map((u) => (
                        <tr key={u.user_id}>
                          <td class="ellipsis">
                            <a href={href('/users/' + encodeURIComponent(u.user_id), appId)}>{u.user_id}</a>
                          </td>
                          <td class="num">{formatInt(u.requests)}</td>
                          <td class="num">{formatPercent(u.error_rate)}</td>
                          <td class="num">{formatAgo(u.last_seen)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          </ProfileBody>
        )}
      </Guard>
    </div>
  );
}

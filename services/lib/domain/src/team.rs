//! Security and order protection teams: one per village-level zone.

use vigil_proto::v1 as pb;

use crate::MemberRole;
use crate::convert::{ConversionError, known_enum, optional, required};

/// A team member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub role: MemberRole,
    pub phone: String,
}

/// The team responsible for one village zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub members: Vec<Member>,
    /// Who is on duty now; `None` means the captain.
    pub on_duty_member_id: Option<String>,
}

impl Team {
    pub fn captain(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.role == MemberRole::Captain)
    }

    /// The member to call now: the one on duty, else the captain.
    pub fn on_duty(&self) -> Option<&Member> {
        self.on_duty_member_id
            .as_deref()
            .and_then(|id| self.members.iter().find(|m| m.id == id))
            .or_else(|| self.captain())
    }
}

impl From<Member> for pb::Member {
    fn from(member: Member) -> Self {
        Self {
            id: member.id,
            name: member.name,
            role: member.role.into(),
            phone: member.phone,
        }
    }
}

impl TryFrom<pb::Member> for Member {
    type Error = ConversionError;

    fn try_from(member: pb::Member) -> Result<Self, Self::Error> {
        const MSG: &str = "Member";
        Ok(Self {
            id: required(MSG, "id", member.id)?,
            name: required(MSG, "name", member.name)?,
            role: known_enum(MSG, "role", member.role)?,
            phone: member.phone,
        })
    }
}

impl From<Team> for pb::Team {
    fn from(team: Team) -> Self {
        Self {
            id: team.id,
            zone_id: team.zone_id,
            name: team.name,
            members: team.members.into_iter().map(Into::into).collect(),
            on_duty_member_id: team.on_duty_member_id.unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::Team> for Team {
    type Error = ConversionError;

    fn try_from(team: pb::Team) -> Result<Self, Self::Error> {
        const MSG: &str = "Team";
        let members = team
            .members
            .into_iter()
            .map(Member::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let on_duty_member_id = optional(team.on_duty_member_id);
        if let Some(id) = &on_duty_member_id
            && !members.iter().any(|m| &m.id == id)
        {
            return Err(ConversionError::new(
                MSG,
                "on_duty_member_id",
                format!("{id:?} is not a member of the team"),
            ));
        }
        Ok(Self {
            id: required(MSG, "id", team.id)?,
            zone_id: required(MSG, "zone_id", team.zone_id)?,
            name: required(MSG, "name", team.name)?,
            members,
            on_duty_member_id,
        })
    }
}
